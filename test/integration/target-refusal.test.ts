// Every request that names a place on this machine is checked before a job exists: a pseudo file
// system (a restore under /proc used to hang the engine at 100% CPU), the engine's home and its
// repositories are refused with one clear error, and no job, folder or catalog row is left.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { openEngine, tempDir } from '../helpers/env.ts';

const runFile = promisify(execFile);

test('a local target under /proc, /sys or /dev, or inside the home, is refused before any job, for every request that takes one', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  const homeBefore = (await readdir(home)).sort();
  const requests = (path: string): [string, Record<string, unknown>][] => {
    const target = { kind: 'local', path };
    return [
      ['restore.entireVm', { vm: 'any', point: 'latest', target }],
      ['restore.disks', { vm: 'any', point: 'latest', target, template: 'ovf' }],
      ['files.restore', { vm: 'any', point: 'latest', paths: ['/disk0/part1/etc'], target }],
      ['files.restoreFromSnapshot', { vm: 'any', snapshot: randomUUID(), paths: ['/disk0/part1/etc'], target }],
      ['restore.fromSnapshot', { vms: ['any'], snapshot: randomUUID(), target }],
      ['restore.tape', { vms: ['any'], point: 'latest', target }],
      ['restore.tape', { vms: ['any'], point: 'latest', target: { kind: 'local', path: join(dir, 'fine') }, staging: path }],
      ['rehearsal.start', { vms: ['any'], point: 'latest', target }],
      ['instant.start', { vm: 'any', point: 'latest', host: 'esx', redirectTo: path }],
      ['repos.add', { name: 'copy', path, region: 'r', zone: 'z' }],
      ...(path.startsWith(home) ? [] : [['arrays.create', { name: 'array', path }] as [string, Record<string, unknown>]]), // an array may live in the home
    ];
  };
  for (const [path, why] of [
    ['/proc/lifeboat-target', /pseudo file system/],
    ['/sys/fs/cgroup/lifeboat', /pseudo file system/],
    ['/dev/lifeboat', /pseudo file system/],
    [join(home, 'restored'), /inside the engine's home/],
    [join(home, 'repositories', 'default', 'x'), /inside the engine's home/],
  ] as const) {
    for (const [channel, request] of requests(path)) {
      await assert.rejects(
        dispatch(engine, new Peer(osCaller()), channel as Parameters<typeof dispatch>[2], request),
        { code: 'bad-request', message: why },
        `${channel} ${path}`,
      );
    }
  }
  assert.deepEqual(engine.catalog.listJobs(), [], 'no job was made');
  assert.deepEqual((await readdir(home)).sort(), homeBefore, 'nothing was made in the home');
  assert.deepEqual((await readdir(dir)).sort(), ['home'], 'nothing was made beside it');
});

test("an engine home on a pseudo file system is refused at once (Node's recursive mkdir never returned under /proc)", async () => {
  for (const home of ['/proc/lifeboat-home', '/sys/fs/cgroup/lifeboat-home', '/dev/lifeboat-home']) {
    await assert.rejects(openServedEngine({ home, workerThreads: 1 }), { code: 'bad-request', message: /pseudo file system/ }, home);
  }
});

test('the files the CLI writes itself (--out) are checked the same way', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
  const lifeboat = (...args: string[]) =>
    runFile(process.execPath, [cli, '--home', home, ...args], {
      cwd: dir,
      env: { ...process.env, KEY_PASSWORD: 'correct horse battery' },
    }).then(
      () => 'exit 0',
      (error: { stderr: string }) => error.stderr,
    );
  assert.match(
    await lifeboat('rehearsals', 'report', randomUUID(), '--out', '/proc/lifeboat-report.html'),
    /--out \/proc\/lifeboat-report\.html is on proc .* pseudo file system/,
  );
  assert.match(
    await lifeboat('keys', 'export', randomUUID(), '--password-env', 'KEY_PASSWORD', '--out', join(home, 'recovery.txt')),
    /inside the engine's home/,
  );
  assert.match(
    await lifeboat('rehearsals', 'report', randomUUID(), '--out', 'relative-report.html'),
    /no rehearsal/,
    'a fair --out gets as far as the engine',
  );
});
