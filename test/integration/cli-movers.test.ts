// `lifeboat movers` as an operator runs it against the engine serving the home: add prints the join
// token once with the line to run on the proxy host, list shows each mover's state (awaiting its
// join, then joined), remove revokes it; bad input is one clear error and changes nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { MoverSummary } from '../../shared/domain.ts';
import { openEngineWith, tempDir } from '../helpers/env.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const home = join(await tempDir(), 'home');

type Outcome = { code: number; stdout: string; stderr: string };
async function lifeboat(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, '--home', home, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

// The engine serves the home through the test (the CLI's commands go to it), with a host that is
// never reached and a proxy of it.
const engine = await openEngineWith({ home, workerThreads: 1 });
{
  const hostId = randomUUID();
  const createdAt = new Date().toISOString();
  engine.catalog.addHost({
    id: hostId,
    name: 'vc',
    kind: 'vsphere',
    url: 'https://127.0.0.1:9/sdk',
    user: 'root',
    insecure: true,
    createdAt,
  });
  engine.catalog.addProxy(
    { id: randomUUID(), name: 'proxy-a', host: 'vc', transports: ['nbd'], proxyVm: null, datastorePaths: {}, maxTasks: 2, createdAt },
    hostId,
  );
}

test('movers add prints the token once and the mover command; list shows the state; remove revokes', async () => {
  assert.match((await lifeboat('movers')).stdout, /^no movers/);

  const added = await lifeboat('movers', 'add', 'mover-a', '--host', 'vc', '--proxy-vm', 'proxy-vm-1');
  assert.equal(added.code, 0, added.stderr);
  const token = /^ {2}(lbm1\.[A-Za-z0-9_-]+)$/m.exec(added.stdout)?.[1];
  assert.ok(token, added.stdout);
  assert.ok(
    added.stdout.includes(`lifeboat mover --engine <engine-address> --token ${token} --state <folder> --datastore <name>=<path>`),
    'no listener is open: the address is a placeholder',
  );

  const json = await lifeboat('--json', 'movers', 'add', 'mover-b', '--host', 'vc');
  assert.equal(json.code, 0, json.stderr);
  const second = JSON.parse(json.stdout) as { mover: MoverSummary; token: string; command: string };
  assert.equal(second.mover.state, 'awaiting-join');
  assert.equal(second.mover.proxyVm, null);
  assert.ok(second.command.includes(second.token));

  // The first mover joins (what the mover listener does with its `join`).
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.equal(engine.enrollment.redeem(token, publicKeyPem).mover.joined, true);

  const listed = await lifeboat('movers', 'list');
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^NAME +HOST +STATE/);
  assert.match(listed.stdout, /^mover-a +vc +disconnected .* \d{4}-\d\d-\d\d/m);
  assert.match(listed.stdout, /^mover-b +vc +awaiting-join/m);
  const movers = JSON.parse((await lifeboat('--json', 'movers')).stdout) as MoverSummary[];
  assert.deepEqual(
    movers.map((mover) => [mover.name, mover.state, mover.proxyVm, mover.certificateExpiresAt !== null]),
    [
      ['mover-a', 'disconnected', 'proxy-vm-1', true],
      ['mover-b', 'awaiting-join', null, false],
    ],
  );

  // The host is not removed while its movers are there.
  const hostRemove = await lifeboat('hosts', 'remove', 'vc');
  assert.equal(hostRemove.code, 2);
  assert.match(hostRemove.stderr, /movers mover-a, mover-b serve host "vc"/);

  const removed = await lifeboat('movers', 'remove', 'mover-a');
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /mover mover-a removed/);
  assert.match((await lifeboat('movers')).stdout, /^mover-a +vc +removed/m);
  const again = await lifeboat('movers', 'remove', 'mover-a');
  assert.equal(again.code, 2);
  assert.match(again.stderr, /no mover "mover-a"/);

  // The audit log names what was done, never the token's secret.
  const audit = await lifeboat('--json', 'audit');
  assert.equal(audit.code, 0, audit.stderr);
  const actions = (JSON.parse(audit.stdout) as { action: string }[]).map((entry) => entry.action);
  for (const action of ['movers.add', 'movers.joined', 'movers.remove']) assert.ok(actions.includes(action), action);
  assert.ok(!audit.stdout.includes(token.slice(5)) && !audit.stdout.includes(second.token.slice(5)));
});

test('bad movers commands are one clear error each and add nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['movers', 'add', 'mover-c'], /movers add needs --host/],
    [['movers', 'add', 'mover-c', '--host', 'nowhere'], /no host "nowhere"/],
    [['movers', 'add', 'proxy-a', '--host', 'vc'], /a proxy named "proxy-a" already exists/],
    [['movers', 'add', 'mover-b', '--host', 'vc'], /a mover named "mover-b" already exists/],
    [['movers', 'add', 'bad name!', '--host', 'vc'], /a host name uses letters, digits/],
    [['proxies', 'add', 'mover-b', '--host', 'vc', '--transports', 'nbd'], /a mover named "mover-b" already exists/],
    [['movers', 'remove'], /movers remove takes one mover name/],
    [['movers', 'rename', 'x'], /movers takes: list \| add/],
  ];
  for (const [args, message] of cases) {
    const outcome = await lifeboat(...args);
    assert.equal(outcome.code, 2, `${args.join(' ')}: ${outcome.stderr}`);
    assert.match(outcome.stderr, message, args.join(' '));
  }
  const names = (JSON.parse((await lifeboat('--json', 'movers')).stdout) as MoverSummary[]).map((mover) => mover.name);
  assert.ok(!names.includes('mover-c') && !names.includes('bad name!'));
  assert.deepEqual(
    engine.catalog.listProxies().map((proxy) => proxy.name),
    ['proxy-a'],
  );
});
