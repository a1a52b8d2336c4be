// The guests of the mass Instant Recovery bench, in a process of their own: forking a reader from
// the engine's process would stop the engine's event loop for each fork, a cost the engine does
// not have when its guests run on a host. Reads lines `{"id","url","bytes"}` on stdin; for each,
// libnfs's nfs-cat reads the url until `bytes` came (killed then, or after two minutes), and a
// line `{"id","firstMibAt"}` (ms since the epoch) or `{"id","error"}` goes to stdout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const MIB = 1024 * 1024;
const now = (): number => performance.timeOrigin + performance.now();

function read(id: string, url: string, bytes: number): void {
  const reader = spawn('nfs-cat', [url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let got = 0;
  let firstMibAt = NaN;
  let errors = '';
  let reported = false;
  const report = (error: string | null): void => {
    if (reported) return;
    reported = true;
    clearTimeout(timer);
    reader.kill('SIGKILL');
    process.stdout.write(`${JSON.stringify(error ? { id, error } : { id, firstMibAt })}\n`);
  };
  const timer = setTimeout(() => report(`nfs-cat ${url}: no ${bytes} bytes in 120 s`), 120_000);
  reader.stdout.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= MIB && Number.isNaN(firstMibAt)) firstMibAt = now();
    if (got >= bytes) report(null);
  });
  reader.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  reader.once('exit', (code) => {
    if (got < bytes) report(`nfs-cat ${url} exited with ${code} after ${got} bytes: ${errors}`);
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  const { id, url, bytes } = JSON.parse(line) as { id: string; url: string; bytes: number };
  read(id, url, bytes);
}
