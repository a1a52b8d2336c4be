// The address of a real tape library: its kind told from the scheme alone, and the name a library
// gets when the operator gives none (the IQN's last part, or the first sg device).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TapeLibraryName } from '../../shared/domain.ts';
import { defaultLibraryName, libraryKind } from '../../electron/tape/library-config.ts';
import { LifeboatError } from '../../electron/errors.ts';

test('the kind of a library address is its scheme; anything else is a bad request', () => {
  assert.equal(libraryKind('iscsi://10.0.0.5:3260/iqn.2004-04.com.example:vtl'), 'iscsi');
  assert.equal(libraryKind('sg:/dev/sg3,/dev/sg4'), 'sg');
  for (const url of ['', 'http://host/', 'ISCSI://host/iqn', 'sg/dev/sg3', 'file:/dev/sg3'])
    assert.throws(() => libraryKind(url), { code: 'bad-request', message: /iscsi:\/\/HOST\[:PORT\]\/IQN or sg:/ });
});

test('a default name comes from the IQN or the first sg device', () => {
  assert.equal(defaultLibraryName('iscsi://10.0.0.5:3260/iqn.2004-04.com.example:vtl'), 'vtl');
  assert.equal(defaultLibraryName('iscsi://[fe80::1]/iqn.2026-12.org.lifeboat.test:library/'), 'library');
  assert.equal(defaultLibraryName('iscsi://host/iqn.2004-04.com.example.vtl-7'), 'iqn.2004-04.com.example.vtl-7');
  assert.equal(defaultLibraryName('iscsi://host:3261/iqn.2004-04.com.example:lto/4'), 'lto', 'a LUN is not a name');
  assert.equal(defaultLibraryName('sg:/dev/sg3,/dev/sg4'), 'sg3');
  assert.equal(defaultLibraryName('iscsi://host/iqn.x:virtual'), 'library', '"virtual" names the built-in library');
});

test('fuzz: any address gets a valid library name or one clear error, never a crash', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string().map((tail) => `iscsi://${tail}`),
        fc.string().map((tail) => `sg:${tail}`),
      ),
      (url) => {
        try {
          libraryKind(url);
        } catch (error) {
          assert.ok(error instanceof LifeboatError);
          return;
        }
        const name = defaultLibraryName(url);
        assert.ok(TapeLibraryName.safeParse(name).success, `"${name}" from ${JSON.stringify(url)}`);
        assert.notEqual(name, 'virtual');
      },
    ),
    { numRuns: 2000 },
  );
});
