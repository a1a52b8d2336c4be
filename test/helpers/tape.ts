// A tape lab: VMs backed up to the repository, a fast virtual library (mechanical waits scaled
// down, streaming at LTO-9's real rate), and optionally the VMs copied to tape.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../../electron/engine/engine.ts';
import type { Job } from '../../shared/domain.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from './env.ts';

export const MIB = 1024 * 1024;

export type TapeLab = { dir: string; home: string; engine: Engine; vms: { name: string; raw: string }[]; backup: Job | null };

export async function tapeLab(options: {
  vms: number;
  diskMib: number;
  tapeMib: number;
  tapes?: number;
  toTape?: boolean;
  rateScale?: number;
}): Promise<TapeLab> {
  const dir = await tempDir('lifeboat-tape-');
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  const vms: { name: string; raw: string }[] = [];
  for (let i = 0; i < options.vms; i++) {
    const name = `tape-vm-${i}`;
    const raw = join(dir, `${name}.raw`);
    const folder = join(dir, name);
    await mkdir(folder);
    await writeMixedRaw(raw, options.diskMib, i + 1);
    await makeVmFolder(folder, name, raw, 'monolithicFlat');
    const job = await runJob(engine, await engine.backups.start(folder, 'test'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
    vms.push({ name, raw });
  }
  await engine.tape.createLibrary({
    slots: 8,
    drives: 2,
    mailslots: 2,
    tapes: options.tapes ?? 4,
    capacityBytes: options.tapeMib * MIB,
    timeScale: 0.001,
    rateScale: options.rateScale ?? 1,
  });
  let backup: Job | null = null;
  if (options.toTape !== false) {
    backup = await runJob(
      engine,
      await engine.tape.startBackup(
        vms.map((vm) => vm.name),
        'weekly',
        'latest',
        'test',
      ),
    );
    assert.equal(backup.state, 'succeeded', backup.error ?? '');
  }
  return { dir, home, engine, vms, backup };
}

export type TapeResult = { barcode: string; loads?: number; passes?: number; starvedEvents: number; sequence?: number; jobIds?: string[] };

export function tapesOf(job: Job): TapeResult[] {
  return (job.result?.tapes as TapeResult[] | undefined) ?? [];
}
