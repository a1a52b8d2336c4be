// Sign-in with local accounts through the real dispatcher: every channel refuses a role below
// its minimum, sessions end when an account changes, and the four-eyes rule needs a second
// signed-in person with the approver role. The audit log names authenticated identities.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { roles, type Role } from '../../shared/accounts.ts';
import { requestChannelNames } from '../../shared/generated/channels.ts';
import type { Job } from '../../shared/domain.ts';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { AuthService } from '../../electron/auth/auth-service.ts';
import { channelRoles, roleRank } from '../../electron/auth/roles.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const owner = new Peer(osCaller());
const password = (name: string): string => `${name}-long-password`;
const people: Record<string, Role> = { alice: 'operator', bob: 'viewer', carol: 'approver', dan: 'administrator', erin: 'approver' };
for (const [name, role] of Object.entries(people)) await dispatch(engine, owner, 'accounts.add', { name, role, password: password(name) });

async function signedIn(name: string): Promise<Peer> {
  const peer = new Peer(null);
  await dispatch(engine, peer, 'auth.login', { user: name, password: password(name) });
  return peer;
}

test('local sign-in: the right password gives a session with the account role; anything else one clear error', async () => {
  const peer = new Peer(null);
  const { token, identity } = (await dispatch(engine, peer, 'auth.login', { user: 'Carol', password: password('carol') })) as {
    token: string;
    identity: { account: string; role: string; via: string };
  };
  assert.deepEqual([identity.account, identity.role, identity.via], ['carol', 'approver', 'local']);
  assert.ok(token.length >= 40);
  assert.ok(engine.auth.mayHearEvents(peer));
  // The token resumes on another connection (a reload, the CLI's next command).
  const other = new Peer(null);
  assert.equal(((await dispatch(engine, other, 'auth.resume', { token })) as { account: string }).account, 'carol');
  const refused = { code: 'unauthorized', message: 'wrong user name or password' };
  await assert.rejects(dispatch(engine, new Peer(null), 'auth.login', { user: 'carol', password: 'carol-long-passworD' }), refused);
  await assert.rejects(dispatch(engine, new Peer(null), 'auth.login', { user: 'nobody', password: 'whatever-it-is' }), refused);
  await assert.rejects(dispatch(engine, new Peer(null), 'auth.resume', { token: 'x'.repeat(43) }), {
    code: 'unauthorized',
    message: /sign in again/,
  });
  for (const user of ['*', 'carol)(uid=*', 'carol,ou=x', ' carol', '', 'a'.repeat(65)]) {
    await assert.rejects(
      dispatch(engine, new Peer(null), 'auth.login', { user, password: 'x' }),
      { code: 'bad-request' },
      JSON.stringify(user),
    );
  }
  await assert.rejects(dispatch(engine, new Peer(null), 'auth.login', { user: 'carol', password: '' }), { code: 'bad-request' });
  const audit = engine.catalog.auditEntries();
  assert.ok(audit.some((entry) => entry.actor === 'local:carol' && entry.action === 'auth.login'));
  assert.ok(audit.some((entry) => entry.actor === 'anonymous' && entry.action === 'auth.refused' && entry.subject === 'nobody'));
  assert.ok(!JSON.stringify(audit).includes('carol-long-passworD'), 'no password reaches the audit log');
});

test('accounts: weak passwords, duplicate names in any case and unknown accounts are refused; only administrators manage them', async () => {
  await assert.rejects(dispatch(engine, owner, 'accounts.add', { name: 'frank', role: 'viewer', password: 'short' }), {
    code: 'bad-request',
    message: /at least 10/,
  });
  await assert.rejects(dispatch(engine, owner, 'accounts.add', { name: 'ALICE', role: 'viewer', password: 'another-long-one' }), {
    code: 'conflict',
  });
  await assert.rejects(dispatch(engine, owner, 'accounts.add', { name: 'frank', role: 'root', password: 'another-long-one' }), {
    code: 'bad-request',
  });
  await assert.rejects(dispatch(engine, owner, 'accounts.remove', { name: 'frank' }), { code: 'not-found' });
  const carol = await signedIn('carol');
  await assert.rejects(dispatch(engine, carol, 'accounts.add', { name: 'frank', role: 'administrator', password: 'another-long-one' }), {
    code: 'unauthorized',
    message: /needs the administrator role/,
  });
  const dan = await signedIn('dan');
  assert.deepEqual(
    ((await dispatch(engine, dan, 'accounts.list', {})) as { name: string }[]).map((account) => account.name),
    ['alice', 'bob', 'carol', 'dan', 'erin'],
  );
  assert.ok(!JSON.stringify(await dispatch(engine, dan, 'accounts.list', {})).includes('scrypt'), 'hashes never leave the engine');
});

test('every channel refuses a caller below its minimum role, and a connection that has not signed in, before its handler runs', async () => {
  const below = new Map<Role, Peer>();
  for (const role of roles) {
    const name = `table-${role}`;
    await dispatch(engine, owner, 'accounts.add', { name, role, password: password(name) });
    below.set(role, await signedIn(name));
  }
  const before = engine.catalog.auditEntries().length;
  let refusals = 0;
  for (const channel of requestChannelNames) {
    const least = channelRoles[channel];
    if (least === 'anyone') continue;
    await assert.rejects(dispatch(engine, new Peer(null), channel, {}), { code: 'unauthorized', message: /sign in first/ }, channel);
    for (const role of roles.filter((candidate) => roleRank(candidate) < roleRank(least))) {
      // A payload that would be malformed: the role is checked first, so the answer is still 'unauthorized'.
      await assert.rejects(
        dispatch(engine, below.get(role) as Peer, channel, { nonsense: true }),
        { code: 'unauthorized', message: new RegExp(`has the ${role} role; .* needs the ${least} role`) },
        `${channel} as ${role}`,
      );
      refusals++;
    }
  }
  assert.ok(refusals > 80, `${refusals} refusals`);
  assert.equal(engine.catalog.auditEntries().length, before, 'no refused call reached a handler that audits');
  assert.equal(engine.auth.mayHearEvents(new Peer(null)), false, 'events go to nobody who has not signed in');
});

test('a session ends at once when its account gets a new password, is removed, or (for its role) is changed', async () => {
  const alice = await signedIn('alice');
  await dispatch(engine, alice, 'vms.list', {});
  await dispatch(engine, owner, 'accounts.setRole', { name: 'alice', role: 'viewer' });
  await assert.rejects(dispatch(engine, alice, 'jobs.cancel', { jobId: randomUUID() }), {
    code: 'unauthorized',
    message: /has the viewer role/,
  });
  await dispatch(engine, owner, 'accounts.setRole', { name: 'alice', role: 'operator' });
  await dispatch(engine, owner, 'accounts.setPassword', { name: 'alice', password: password('alice') });
  await assert.rejects(dispatch(engine, alice, 'vms.list', {}), { code: 'unauthorized', message: /sign-in has ended/ });
  assert.equal(engine.auth.mayHearEvents(alice), false, 'and its events stop at once, not when its token would have expired');
  const again = await signedIn('alice');
  await dispatch(engine, owner, 'accounts.add', { name: 'gone', role: 'viewer', password: password('gone') });
  const gone = await signedIn('gone');
  await dispatch(engine, owner, 'accounts.remove', { name: 'GONE' });
  await assert.rejects(dispatch(engine, gone, 'vms.list', {}), { code: 'unauthorized', message: /sign-in has ended/ });
  assert.equal(engine.auth.mayHearEvents(gone), false);
  assert.deepEqual(await dispatch(engine, again, 'auth.logout', {}), { signedOut: true });
  assert.equal(await dispatch(engine, again, 'auth.whoami', {}), null, 'signed out of a console connection: nobody');
});

catalogTest('a session ends when its time is up; a name rests after five wrong passwords', async (_t, backend) => {
  const catalog = await backend.open();
  try {
    let now = new Date('2026-12-02T08:00:00Z');
    const auth = new AuthService({ accounts: catalog.accounts, audit: () => undefined, now: () => now });
    await auth.addAccount('ann', 'viewer', password('ann'), osCaller());
    const { token, identity } = await auth.login('ann', password('ann'));
    assert.equal(identity.expiresAt, '2026-12-02T20:00:00.000Z');
    now = new Date('2026-12-02T19:59:59Z');
    assert.equal(auth.resume(token).account, 'ann');
    now = new Date('2026-12-02T20:00:00Z');
    assert.throws(() => auth.resume(token), { code: 'unauthorized', message: /sign-in has ended/ });
    // Guessing: five wrong passwords in a row and the name rests a minute, even for the right one.
    for (let attempt = 0; attempt < 5; attempt++)
      await assert.rejects(auth.login('Ann', 'guess-number-' + attempt), { message: 'wrong user name or password' });
    await assert.rejects(auth.login('ann', password('ann')), {
      code: 'unauthorized',
      message: /too many wrong passwords for ann; try again in 60 s/,
    });
    now = new Date('2026-12-02T20:01:00Z');
    assert.equal((await auth.login('ann', password('ann'))).identity.account, 'ann');
  } finally {
    catalog.close();
  }
});

test('four-eyes: alice asks; alice (even made an approver), bob and the OS user cannot approve; carol can; the audit log names both', async () => {
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 8);
  await makeVmFolder(source, 'payroll', join(dir, 'disk.raw'), 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  // A host that is never reached: the rule holds the job before anything connects.
  engine.catalog.addHost({
    id: randomUUID(),
    name: 'vc',
    kind: 'vsphere',
    url: 'https://127.0.0.1:9/sdk',
    user: 'root',
    insecure: true,
    createdAt: new Date().toISOString(),
  });
  const dan = await signedIn('dan');
  await dispatch(engine, dan, 'settings.set', { fourEyes: true });

  const alice = await signedIn('alice');
  const original = { vm: 'payroll', point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true } };
  await assert.rejects(
    dispatch(engine, alice, 'restore.entireVm', { ...original, operator: 'carol' }),
    { code: 'bad-request', message: /operator/ },
    'nobody names their own approver',
  );
  const { job } = (await dispatch(engine, alice, 'restore.entireVm', original)) as { job: Job };
  assert.deepEqual([job.state, job.waitingFor, job.requestedBy], ['waiting-for-operator', 'approval', 'local:alice']);

  await assert.rejects(dispatch(engine, alice, 'jobs.approve', { jobId: job.id }), { code: 'unauthorized', message: /operator role/ });
  await assert.rejects(dispatch(engine, await signedIn('bob'), 'jobs.approve', { jobId: job.id }), {
    code: 'unauthorized',
    message: /viewer role/,
  });
  await assert.rejects(dispatch(engine, owner, 'jobs.approve', { jobId: job.id }), {
    code: 'unauthorized',
    message: /signed-in account, not the engine's OS user/,
  });
  await assert.rejects(dispatch(engine, await signedIn('carol'), 'jobs.approve', { jobId: job.id, operator: 'someone-else' }), {
    code: 'bad-request',
  });
  // alice made an approver still cannot approve her own request.
  await dispatch(engine, dan, 'accounts.setRole', { name: 'alice', role: 'approver' });
  await assert.rejects(dispatch(engine, alice, 'jobs.approve', { jobId: job.id }), {
    code: 'conflict',
    message: /a second person must approve/,
  });
  await dispatch(engine, dan, 'accounts.setRole', { name: 'alice', role: 'operator' });
  assert.equal(engine.catalog.getJob(job.id)?.state, 'waiting-for-operator', 'still held');

  const approved = (await dispatch(engine, await signedIn('carol'), 'jobs.approve', { jobId: job.id })) as { job: Job };
  assert.notEqual(approved.job.state, 'waiting-for-operator');
  engine.jobs.cancel(job.id);
  await runJob(engine, approved.job);
  const audit = engine.catalog.auditEntries();
  assert.equal(audit.find((entry) => entry.action === 'restore.entireVm' && entry.subject === job.vmId)?.actor, 'local:alice');
  assert.equal(audit.find((entry) => entry.action === 'jobs.approve' && entry.subject === job.id)?.actor, 'local:carol');
  assert.equal(audit.find((entry) => entry.action === 'settings.set')?.actor, 'local:dan');
  assert.equal(((await dispatch(engine, owner, 'audit.verify', {})) as { intact: boolean }).intact, true);
});
