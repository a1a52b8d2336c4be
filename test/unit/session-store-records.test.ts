// Console sessions kept in the catalog outlive the engine: a key handed out before a restart
// still opens a session after it, an ended one still says why, and nothing but digests is kept.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SessionStore } from '../../electron/auth/session-store.ts';
import { anchorsIn, catalogTest } from '../helpers/catalog-backends.ts';

catalogTest('console sessions survive a restart of the catalog: live keys open, revoked and expired ones say so', async (_t, backend) => {
  const path = await backend.location();
  const anchors = await anchorsIn();
  let now = 1_000_000;
  const limits = { idleMs: 60 * 60_000, absoluteMs: 12 * 3_600_000 };
  const first = backend.reopen(path, anchors);
  const before = new SessionStore({ records: first.consoleSessions, limits, now: () => now });
  const kept = before.create();
  const revoked = before.create();
  const idle = before.create();
  before.revoke(revoked.id);
  now += 30 * 60_000;
  assert.deepEqual(before.authenticate(kept.key), { ok: true, id: kept.id });
  first.close();
  if (backend.name === 'sqlite') {
    const stored = await readFile(path);
    for (const { key } of [kept, revoked, idle]) assert.equal(stored.includes(Buffer.from(key)), false, 'no key in the clear');
  }

  now += 40 * 60_000;
  const second = backend.reopen(path, anchors);
  const after = new SessionStore({ records: second.consoleSessions, limits, now: () => now });
  assert.deepEqual(after.authenticate(kept.key), { ok: true, id: kept.id }, 'used 40 min ago (stored): still live');
  assert.deepEqual(after.authenticate(revoked.key), { ok: false, reason: 'revoked' });
  assert.deepEqual(after.authenticate(idle.key), { ok: false, reason: 'expired' }, 'idle 70 min across the restart');
  assert.deepEqual(after.authenticate('not a key'), { ok: false, reason: 'unknown' });
  assert.deepEqual(
    after.list().map((session) => session.id),
    [kept.id],
  );
  // Past their longest life, ended sessions are forgotten, in the catalog too.
  now += limits.absoluteMs + 1;
  after.sweep();
  second.close();
  const third = backend.reopen(path, anchors);
  assert.deepEqual(third.consoleSessions.all().filter((session) => session.ended === null).length, 0);
  assert.equal(new SessionStore({ records: third.consoleSessions, limits, now: () => now }).authenticate(revoked.key).ok, false);
  third.close();
});
