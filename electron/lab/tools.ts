// Runs the real disk tools (e2fsprogs, dosfstools, mtools, gdisk, qemu-img) and turns a missing
// tool into one clear sentence naming the Debian package.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LifeboatError } from '../errors.ts';

const run = promisify(execFile);

const packages: Record<string, string> = {
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  sgdisk: 'gdisk',
  'qemu-img': 'qemu-utils',
};

export async function tool(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' },
    });
    return stdout;
  } catch (error) {
    const failure = error as { code?: unknown; stderr?: string; message: string };
    if (failure.code === 'ENOENT') {
      throw new LifeboatError('unavailable', `${command} is not installed; install the Debian package ${packages[command] ?? command}`);
    }
    throw new LifeboatError(
      'internal',
      `${command} ${args.join(' ')} failed: ${(failure.stderr || failure.message).trim().split('\n').slice(-3).join(' ')}`,
    );
  }
}
