// A thousand jobs for the console: queued through the home's running engine (the same socket
// the CLI uses), and the console's frame times and heap measured while they report progress.
// Shared by the bench and the console's end-to-end test.
import type { Page } from 'playwright';
import { connect } from '../electron/cli/connect.ts';

/** Queues `count` verify jobs across the lab's VMs; returns their ids. */
export async function queueJobs(home: string, vms: string[], count: number): Promise<string[]> {
  const connection = await connect(home);
  try {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await connection.api.invoke('verify.start', { vm: vms[i % vms.length] as string })).job.id);
    return ids;
  } finally {
    await connection.close();
  }
}

/** Cancels what is left of them (jobs that ended meanwhile are refused, and that is fine). */
export async function cancelJobs(home: string, ids: string[]): Promise<void> {
  const connection = await connect(home);
  try {
    for (let from = 0; from < ids.length; from += 1000)
      await connection.api.invoke('jobs.cancelMany', { jobIds: ids.slice(from, from + 1000) });
  } finally {
    await connection.close();
  }
}

export type RendererFigures = {
  frames: number;
  medianFrameMs: number;
  p95FrameMs: number;
  longestFrameMs: number;
  heapMiB: number;
  rowsInDom: number;
};

/** Scrolls the job list up and down for `seconds` while counting animation frames. */
export async function measureQueue(page: Page, seconds: number): Promise<RendererFigures> {
  const list = page.getByRole('list', { name: 'Job queue' });
  const box = await list.boundingBox();
  const framesPromise = page.evaluate(
    (ms) =>
      new Promise<number[]>((resolve) => {
        const frames: number[] = [];
        let last = performance.now();
        const end = last + ms;
        const tick = (now: number): void => {
          frames.push(now - last);
          last = now;
          if (now < end) requestAnimationFrame(tick);
          else resolve(frames);
        };
        requestAnimationFrame(tick);
      }),
    seconds * 1000,
  );
  if (box) {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let step = 0; step < seconds * 10; step++) {
      await page.mouse.wheel(0, step % 40 < 20 ? 900 : -900);
      await page.waitForTimeout(100);
    }
  }
  const frames = (await framesPromise).slice(1).sort((a, b) => a - b);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  await cdp.detach();
  const heap = metrics.find((metric) => metric.name === 'JSHeapUsedSize')?.value ?? 0;
  const at = (q: number): number => frames[Math.min(frames.length - 1, Math.floor(frames.length * q))] ?? 0;
  return {
    frames: frames.length,
    medianFrameMs: at(0.5),
    p95FrameMs: at(0.95),
    longestFrameMs: frames.at(-1) ?? 0,
    heapMiB: heap / 2 ** 20,
    rowsInDom: await list.getByRole('listitem').count(),
  };
}
