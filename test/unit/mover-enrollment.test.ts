// Who may be a mover: tokens join once, within the hour, for this engine only; certificates are
// accepted only while current (a renewal or a removal ends the old one); every refusal is one
// LifeboatError. Join tokens are outside input: damaged real tokens never join.
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { LifeboatError, type ErrorCode } from '../../electron/errors.ts';
import { MoverEnrollment, parseJoinToken } from '../../electron/movers/enrollment.ts';
import { formatJoinToken } from '../../electron/movers/join-token.ts';
import { issueCertificate, issuedBy, makeAuthority } from '../../electron/x509/authority.ts';
import { catalogTest, type CatalogBackend } from '../helpers/catalog-backends.ts';
import { tempDir } from '../helpers/env.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A catalog with a vSphere host and a proxy, and an enrollment under a clock the test moves. */
async function setUp(backend: CatalogBackend) {
  const dir = await tempDir();
  const catalog = await backend.open();
  catalog.addHost({
    id: 'host-1',
    name: 'vcenter',
    kind: 'vsphere',
    url: 'https://vc/sdk',
    user: 'u',
    insecure: false,
    createdAt: new Date().toISOString(),
  });
  catalog.addProxy(
    {
      id: 'proxy-1',
      name: 'proxy-a',
      host: 'vcenter',
      transports: ['nbd'],
      proxyVm: null,
      datastorePaths: {},
      maxTasks: 2,
      createdAt: new Date().toISOString(),
    },
    'host-1',
  );
  const clock = { at: Date.now() };
  const folder = join(dir, 'movers');
  const enrollment = await MoverEnrollment.open({ catalog, folder, now: () => new Date(clock.at) });
  return { dir, catalog, clock, folder, enrollment, close: () => catalog.close() };
}

function moverKey(): { publicKeyPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function refused(action: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof LifeboatError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

catalogTest(
  'a mover joins once with its token, gets a 30-day client certificate renewed after 20, and is authorized by it',
  async (_t, backend) => {
    const { catalog, clock, enrollment, close } = await setUp(backend);
    try {
      const { mover, token } = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: 'proxy-vm-1' }, 'tester');
      assert.deepEqual(
        { ...mover, id: undefined, createdAt: undefined },
        {
          id: undefined,
          name: 'mover-a',
          host: 'vcenter',
          proxyVm: 'proxy-vm-1',
          joined: false,
          removed: false,
          certificateSerial: null,
          certificateExpiresAt: null,
          createdAt: undefined,
        },
      );
      assert.deepEqual(parseJoinToken(token), {
        moverId: mover.id,
        secret: parseJoinToken(token).secret,
        caFingerprint: enrollment.caFingerprint(),
      });
      // Only the secret's SHA-256 is kept.
      const row = catalog.movers.byId(mover.id);
      assert.ok(row && !JSON.stringify(row).includes(parseJoinToken(token).secret));

      const key = moverKey();
      const joined = enrollment.redeem(token, key.publicKeyPem);
      assert.equal(joined.mover.joined, true);
      assert.equal(joined.caPem, enrollment.serverTls().ca);
      const certificate = new X509Certificate(joined.certificatePem);
      assert.ok(issuedBy(certificate, new X509Certificate(joined.caPem), new Date(clock.at)));
      assert.equal(certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString(), key.publicKeyPem);
      assert.equal(new Date(joined.certificateExpiresAt).getTime(), new Date(certificate.validTo).getTime());
      assert.ok(Math.abs(new Date(joined.certificateExpiresAt).getTime() - (clock.at + 30 * DAY)) < 2000);
      assert.ok(Math.abs(new Date(joined.renewAfter).getTime() - (clock.at + 20 * DAY)) < 2000);
      assert.equal(enrollment.authorize(certificate).id, mover.id);
      assert.equal(enrollment.find('mover-a')?.certificateSerial, joined.mover.certificateSerial);
      refused(() => enrollment.redeem(token, moverKey().publicKeyPem), 'forbidden', /was used already/);
      assert.deepEqual(
        catalog
          .auditEntries()
          .reverse()
          .map((entry) => [entry.actor, entry.action, entry.subject]),
        [
          ['engine', 'audit.anchored', null],
          ['tester', 'movers.add', mover.id],
          ['mover:mover-a', 'movers.joined', mover.id],
        ],
      );
    } finally {
      close();
    }
  },
);

catalogTest(
  'adding is refused for an unknown host, a proxy’s name or a mover’s name that is in use; a removed name is free',
  async (_t, backend) => {
    const { catalog, enrollment, close } = await setUp(backend);
    try {
      refused(() => enrollment.add({ name: 'mover-a', host: 'nowhere', proxyVm: null }, 'tester'), 'not-found', /no host "nowhere"/);
      refused(() => enrollment.add({ name: 'proxy-a', host: 'vcenter', proxyVm: null }, 'tester'), 'conflict', /a proxy named "proxy-a"/);
      const first = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
      refused(() => enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester'), 'conflict', /a mover named "mover-a"/);
      refused(() => enrollment.remove('mover-b', 'tester'), 'not-found', /no mover "mover-b"/);
      assert.equal(enrollment.remove('mover-a', 'tester').removed, true);
      refused(() => enrollment.remove('mover-a', 'tester'), 'not-found', /no mover "mover-a"/);
      const second = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
      assert.notEqual(second.mover.id, first.mover.id);
      assert.deepEqual(
        enrollment.list().map((mover) => [mover.id, mover.removed]),
        [
          [first.mover.id, true],
          [second.mover.id, false],
        ],
      );
      assert.equal(enrollment.find('mover-a')?.id, second.mover.id, 'the live one first');
      // The first mover's token no longer joins.
      refused(() => enrollment.redeem(first.token, moverKey().publicKeyPem), 'forbidden', /mover mover-a was removed/);
      // A host is not removed under its movers.
      refused(
        () =>
          catalog.movers.add({
            id: 'x',
            name: 'x',
            host: 'nowhere',
            proxyVm: null,
            tokenSha256: 'a'.repeat(64),
            tokenExpiresAt: '',
            createdAt: '',
          }),
        'not-found',
        /no host/,
      );
      assert.deepEqual(catalog.movers.liveNamesOfHost('host-1'), ['mover-a']);
      assert.deepEqual(
        catalog
          .auditEntries()
          .map((entry) => entry.action)
          .filter((action) => action.startsWith('movers.')),
        ['movers.add', 'movers.remove', 'movers.add'],
      );
    } finally {
      close();
    }
  },
);

catalogTest(
  'a token is refused once expired, from another engine, with another secret, or for an unknown mover; a bad key uses nothing up',
  async (_t, backend) => {
    const { clock, enrollment, close } = await setUp(backend);
    const other = await setUp(backend);
    try {
      const { token } = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
      const parsed = parseJoinToken(token);
      refused(() => other.enrollment.redeem(token, moverKey().publicKeyPem), 'forbidden', /made by another engine/);
      const otherSecret = formatJoinToken({ ...parsed, secret: 'A'.repeat(43) });
      refused(() => enrollment.redeem(otherSecret, moverKey().publicKeyPem), 'forbidden', /not one this engine issued/);
      const unknownMover = formatJoinToken({ ...parsed, moverId: '00000000-0000-4000-8000-000000000000' });
      refused(() => enrollment.redeem(unknownMover, moverKey().publicKeyPem), 'forbidden', /not one this engine issued/);
      refused(() => enrollment.redeem('lbm1.nonsense!', moverKey().publicKeyPem), 'bad-request', /malformed/);
      refused(() => enrollment.redeem(token, 'not a key'), 'bad-request', /public key/);
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      refused(() => enrollment.redeem(token, p384), 'bad-request', /not ECDSA P-256/);
      assert.equal(enrollment.find('mover-a')?.joined, false, 'a refused key does not use the token');

      const late = enrollment.add({ name: 'mover-b', host: 'vcenter', proxyVm: null }, 'tester');
      clock.at += HOUR;
      refused(() => enrollment.redeem(late.token, moverKey().publicKeyPem), 'forbidden', /join token of mover mover-b expired at/);
      clock.at -= HOUR - 1000;
      assert.equal(enrollment.redeem(late.token, moverKey().publicKeyPem).mover.joined, true, 'just within the hour');
    } finally {
      close();
      other.close();
    }
  },
);

catalogTest('authorize accepts only the current certificate of a live mover from this CA', async (_t, backend) => {
  const { clock, enrollment, close } = await setUp(backend);
  try {
    const { mover, token } = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
    const joined = enrollment.redeem(token, moverKey().publicKeyPem);
    const first = new X509Certificate(joined.certificatePem);
    assert.equal(enrollment.authorize(first).name, 'mover-a');

    // The same name and key from another CA.
    const foreignCa = makeAuthority('Lifeboat movers CA other', {
      notBefore: new Date(clock.at - DAY),
      notAfter: new Date(clock.at + DAY),
    });
    const foreign = issueCertificate(foreignCa, {
      commonName: 'mover-a',
      publicKey: first.publicKey,
      use: { kind: 'client' },
      notBefore: new Date(clock.at - DAY),
      notAfter: new Date(clock.at + DAY),
    });
    refused(() => enrollment.authorize(new X509Certificate(foreign.certPem)), 'forbidden', /not issued by this engine's mover CA/);
    // The listener's own certificate is this CA's, but no mover's.
    refused(() => enrollment.authorize(new X509Certificate(enrollment.serverTls().cert)), 'forbidden', /no mover ".*" is known/);

    // Renewed: the new one is accepted, the old one is not.
    const renewed = enrollment.renew(mover.id, moverKey().publicKeyPem);
    const second = new X509Certificate(renewed.certificatePem);
    assert.equal(enrollment.authorize(second).id, mover.id);
    refused(() => enrollment.authorize(first), 'forbidden', /no longer its own/);
    assert.notEqual(enrollment.find('mover-a')?.certificateSerial, joined.mover.certificateSerial);

    // Past its end, a certificate is refused even if it is the current one.
    clock.at += 31 * DAY;
    refused(() => enrollment.authorize(second), 'forbidden', /outside its validity/);
    clock.at -= 31 * DAY;

    // Removed: refused, and not renewed; a new mover of the same name does not revive it.
    enrollment.remove('mover-a', 'tester');
    refused(() => enrollment.authorize(second), 'forbidden', /mover mover-a was removed/);
    refused(() => enrollment.renew(mover.id, moverKey().publicKeyPem), 'forbidden', /mover mover-a was removed/);
    const again = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
    refused(() => enrollment.authorize(second), 'forbidden', /mover mover-a was removed/);
    refused(() => enrollment.authorize(first), 'forbidden', /no longer its own/);
    refused(() => enrollment.renew(again.mover.id, moverKey().publicKeyPem), 'forbidden', /has not joined/);
    refused(() => enrollment.renew('no-such-id', moverKey().publicKeyPem), 'forbidden', /no mover no-such-id/);
  } finally {
    close();
  }
});

catalogTest(
  'the CA and listener keys are made once in a 0700 folder (keys 0600); reopening keeps the CA the tokens pin',
  async (_t, backend) => {
    const { catalog, folder, enrollment, close } = await setUp(backend);
    try {
      assert.equal((await stat(folder)).mode & 0o777, 0o700);
      assert.deepEqual((await readdir(folder)).sort(), ['ca-cert.pem', 'ca-key.pem', 'listener-cert.pem', 'listener-key.pem']);
      for (const key of ['ca-key.pem', 'listener-key.pem']) assert.equal((await stat(join(folder, key))).mode & 0o777, 0o600, key);
      const tls = enrollment.serverTls();
      const listener = new X509Certificate(tls.cert);
      assert.ok(issuedBy(listener, new X509Certificate(tls.ca), new Date()));
      assert.ok(tls.cert.endsWith(tls.ca), 'the chain: leaf, then CA');
      assert.ok(listener.checkIP('127.0.0.1') && listener.checkHost('localhost'));
      const reopened = await MoverEnrollment.open({ catalog, folder });
      assert.equal(reopened.caFingerprint(), enrollment.caFingerprint());
      assert.equal(reopened.serverTls().cert, tls.cert, 'a listener certificate that still fits is kept');
    } finally {
      close();
    }
  },
);

catalogTest('a CA that lost its key stops the open with one clear error instead of being replaced', async (_t, backend) => {
  const { catalog, folder, close } = await setUp(backend);
  try {
    const { rm } = await import('node:fs/promises');
    await rm(join(folder, 'ca-key.pem'));
    await assert.rejects(MoverEnrollment.open({ catalog, folder }), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.match(error.message, /has lost its key/);
      return true;
    });
  } finally {
    close();
  }
});

catalogTest('damaged real join tokens are malformed or refused, never joined', async (_t, backend) => {
  const { enrollment, close } = await setUp(backend);
  try {
    const { token } = enrollment.add({ name: 'mover-a', host: 'vcenter', proxyVm: null }, 'tester');
    const key = moverKey().publicKeyPem;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\u0000é';
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat({ max: token.length - 1 }), char: fc.constantFrom(...alphabet) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: token.length - 1 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: token.length }), char: fc.constantFrom(...alphabet) }),
    );
    fc.assert(
      fc.property(damage, (change) => {
        const damaged =
          change.kind === 'cut'
            ? token.slice(0, change.at)
            : change.kind === 'insert'
              ? token.slice(0, change.at) + change.char + token.slice(change.at)
              : token.slice(0, change.at) + change.char + token.slice(change.at + 1);
        fc.pre(damaged !== token);
        assert.throws(
          () => enrollment.redeem(damaged, key),
          (error: unknown) => error instanceof LifeboatError && (error.code === 'bad-request' || error.code === 'forbidden'),
        );
      }),
      { numRuns: 500 },
    );
    // Random text is never a token.
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        try {
          parseJoinToken(text);
          assert.fail(`"${text}" parsed`);
        } catch (error) {
          assert.ok(error instanceof LifeboatError && error.code === 'bad-request', String(error));
        }
      }),
    );
    assert.equal(enrollment.redeem(token, key).mover.joined, true, 'the undamaged token still joins');
  } finally {
    close();
  }
});
