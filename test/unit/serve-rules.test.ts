// The pure rules under `lifeboat serve`: what a request target names (fuzzed: it must never throw
// and never name anything outside the console), which addresses are loopback, when the console
// must be HTTPS, and how session keys end (a model of the store, driven by random operations).
import assert from 'node:assert/strict';
import { join, resolve, sep } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { decideListen, isLoopbackAddress } from '../../electron/rpc/listen-policy.ts';
import { consoleFile, requestPath } from '../../electron/rpc/request-target.ts';
import { SessionStore } from '../../electron/auth/session-store.ts';

const runs = { numRuns: 300 };

test('request targets: any string is read without throwing, and no file outside the console is named', () => {
  const root = '/srv/console';
  const target = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .array(
        fc.oneof(
          fc.constantFrom('..', '.', '', '%2e%2e', '%2E.', '%2f', '%5c', '%FF', '%00', '%', '%C0%AE', '?', '#', '\\'),
          fc.string({ maxLength: 6 }),
        ),
        { maxLength: 10 },
      )
      .map((parts) => `/${parts.join('/')}`),
  );
  fc.assert(
    fc.property(target, (raw) => {
      const path = requestPath(raw);
      if (path === null) return;
      assert.equal(path.includes('\0'), false);
      const file = consoleFile(path);
      if (file === null) return;
      const full = resolve(join(root, file));
      assert.ok(full.startsWith(root + sep), `${raw} -> ${full}`);
    }),
    runs,
  );
  assert.equal(requestPath('/%FF'), null);
  assert.equal(requestPath('http://[/'), null);
  assert.equal(requestPath('*'), null);
  assert.equal(requestPath('/a%2Fb?x=%FF'), '/a/b');
  assert.equal(consoleFile('/'), 'index.html');
  assert.equal(consoleFile('/assets/app.js'), 'assets/app.js');
  for (const climbing of ['/..', '/a/../b', '//etc/passwd', '/./x', '/a/', '/..\\x']) assert.equal(consoleFile(climbing), null, climbing);
});

test('loopback is 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost; anything else is remote', () => {
  for (const host of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost'])
    assert.equal(isLoopbackAddress(host), true, host);
  for (const host of [
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '192.168.1.1',
    '128.0.0.1',
    '::ffff:10.0.0.1',
    'fe80::1',
    'localhost.example',
    'my-host',
    '127.1',
    '127.0.0.1.nip.io',
    '',
    ' 127.0.0.1',
  ]) {
    assert.equal(isLoopbackAddress(host), false, host);
  }
  fc.assert(
    fc.property(fc.ipV4(), (ip) => assert.equal(isLoopbackAddress(ip), ip.startsWith('127.'))),
    runs,
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => void isLoopbackAddress(text)),
    runs,
  );
});

test('plain HTTP only on loopback; beyond it --allow-remote and then HTTPS only', () => {
  const decide = (host: string, flags: Partial<{ allowRemote: boolean; forceTls: boolean; operatorCertificate: boolean }> = {}) =>
    decideListen({ host, allowRemote: false, forceTls: false, operatorCertificate: false, ...flags });
  assert.deepEqual(decide('127.0.0.1'), {
    scheme: 'http',
    certificate: 'none',
    reasons: ['127.0.0.1 is loopback: plain HTTP never leaves this machine'],
  });
  assert.equal(decide('127.0.0.1', { forceTls: true }).scheme, 'https');
  assert.equal(decide('::1', { operatorCertificate: true }).certificate, 'operator');
  assert.throws(
    () => decide('0.0.0.0'),
    (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request' && /pass --allow-remote/.test(error.message),
  );
  assert.throws(() => decide('my-host.example'), LifeboatError);
  const remote = decide('0.0.0.0', { allowRemote: true });
  assert.equal(remote.scheme, 'https');
  assert.equal(remote.certificate, 'self-signed');
  assert.match(remote.reasons.join('; '), /not a loopback address: the console and its session keys go over HTTPS and WSS only/);
  assert.equal(decide('192.0.2.10', { allowRemote: true, operatorCertificate: true }).certificate, 'operator');
  fc.assert(
    fc.property(
      fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      (host, allowRemote, forceTls, operatorCertificate) => {
        let decision;
        try {
          decision = decideListen({ host, allowRemote, forceTls, operatorCertificate });
        } catch (error) {
          assert.ok(error instanceof LifeboatError && !allowRemote && !isLoopbackAddress(host));
          return;
        }
        if (!isLoopbackAddress(host)) assert.equal(decision.scheme, 'https', 'never plain HTTP beyond loopback');
        if (operatorCertificate) assert.equal(decision.certificate, 'operator');
      },
    ),
    runs,
  );
});

test('session keys: a model of idle and absolute expiry and revocation agrees with the store', () => {
  const idleMs = 1_000;
  const absoluteMs = 5_000;
  const operation = fc.oneof(
    fc.record({ kind: fc.constant('create' as const) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
    fc.record({ kind: fc.constant('use' as const), which: fc.nat() }),
    fc.record({ kind: fc.constant('revoke' as const), which: fc.nat() }),
    fc.record({ kind: fc.constant('revokeAll' as const) }),
    fc.record({ kind: fc.constant('sweep' as const) }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
      let now = 0;
      const store = new SessionStore({ limits: { idleMs, absoluteMs }, now: () => now });
      type Modelled = { id: string; key: string; created: number; used: number; ended: 'expired' | 'revoked' | null };
      const sessions: Modelled[] = [];
      const ends: string[] = [];
      store.onEnd((id, reason) => ends.push(`${id}:${reason}`));
      const live = (session: Modelled): boolean =>
        session.ended === null && now < Math.min(session.used + idleMs, session.created + absoluteMs);
      for (const step of operations) {
        if (step.kind === 'create') {
          const { id, key } = store.create();
          sessions.push({ id, key, created: now, used: now, ended: null });
        } else if (step.kind === 'advance') now += step.ms;
        else if (step.kind === 'use' && sessions.length > 0) {
          const session = sessions[step.which % sessions.length] as Modelled;
          const expected = live(session);
          const check = store.authenticate(session.key);
          assert.equal(check.ok, expected);
          if (expected) session.used = now;
          else {
            if (session.ended === null) session.ended = 'expired';
            assert.deepEqual(check, { ok: false, reason: session.ended });
          }
        } else if (step.kind === 'revoke' && sessions.length > 0) {
          const session = sessions[step.which % sessions.length] as Modelled;
          const expected = live(session);
          if (session.ended === null && !expected) session.ended = 'expired';
          assert.equal(store.revoke(session.id), expected);
          if (expected) session.ended = 'revoked';
        } else if (step.kind === 'revokeAll') {
          const ending = sessions.filter((session) => session.ended === null);
          for (const session of ending) session.ended = live(session) ? 'revoked' : 'expired';
          assert.equal(store.revokeAll(), ending.filter((session) => session.ended === 'revoked').length);
        } else if (step.kind === 'sweep') {
          for (const session of sessions) if (session.ended === null && !live(session)) session.ended = 'expired';
          store.sweep();
        }
        assert.deepEqual(
          store.list().map((listed) => listed.id),
          sessions.filter(live).map((session) => session.id),
        );
      }
      // Every session ended at most once, and only sessions that were made.
      assert.equal(new Set(ends.map((end) => end.split(':')[0])).size, ends.length);
    }),
    runs,
  );
});

test('session keys: ended ones say why, unknown ones say nothing, keys are not ids', () => {
  let now = 0;
  const store = new SessionStore({ limits: { idleMs: 10, absoluteMs: 100 }, now: () => now });
  const first = store.create();
  const second = store.create('operator-a');
  assert.notEqual(first.key, first.id);
  assert.equal(store.authenticate(first.id).ok, false, 'an id is not a key');
  assert.deepEqual(store.authenticate('nope'), { ok: false, reason: 'unknown' });
  assert.equal(store.identityOf(second.id), 'operator-a');
  assert.equal(store.revoke(second.id), true);
  assert.deepEqual(store.authenticate(second.key), { ok: false, reason: 'revoked' });
  now = 10;
  assert.deepEqual(store.authenticate(first.key), { ok: false, reason: 'expired' });
  assert.equal(store.revoke(first.id), false);
  // Tombstones are forgotten once a session could no longer have been alive.
  now = 1_000;
  store.sweep();
  assert.deepEqual(store.authenticate(first.key), { ok: false, reason: 'unknown' });
});
