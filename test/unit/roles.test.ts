// The role table against the contract, and the pure parts of sign-in fed damaged input: the
// --role-map text, the CLI's session file and stored password hashes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { roles, type Caller, type Role } from '../../shared/accounts.ts';
import { requestChannelNames } from '../../shared/generated/channels.ts';
import { requestChannels } from '../../shared/contract.ts';
import { authorize, channelRoles, personOf, roleRank } from '../../electron/auth/roles.ts';
import { connectionChannels } from '../../electron/auth/auth-handlers.ts';
import { mappingMatches, parseRoleMap } from '../../electron/auth/role-map.ts';
import { hashPassword, verifyPassword } from '../../electron/auth/passwords.ts';
import { parseSessionFile } from '../../electron/cli/session-file.ts';
import { LifeboatError } from '../../electron/errors.ts';

const as = (role: Role): Caller => ({ account: 'someone', role, via: 'local' });

test('every contract channel has exactly one entry in the role table, and nothing else does', () => {
  const table = Object.keys(channelRoles).sort();
  assert.deepEqual(table, [...requestChannelNames].sort());
  assert.deepEqual(table, Object.keys(requestChannels).sort());
  // The channels open to anyone are exactly the ones that sign a connection in or out.
  assert.deepEqual(requestChannelNames.filter((channel) => channelRoles[channel] === 'anyone').sort(), [...connectionChannels].sort());
});

test('each channel refuses every role below its minimum and lets its minimum and above through', () => {
  for (const channel of requestChannelNames) {
    const least = channelRoles[channel];
    for (const role of roles) {
      const allowed = least === 'anyone' || roleRank(role) >= roleRank(least);
      if (allowed) assert.equal(authorize(channel, as(role)).role, role, `${channel} as ${role}`);
      else
        assert.throws(
          () => authorize(channel, as(role)),
          { code: 'unauthorized', message: new RegExp(`${channel.replace('.', '\\.')} needs the ${least} role`) },
          `${channel} as ${role}`,
        );
    }
    assert.throws(() => authorize(channel, null), { code: 'unauthorized', message: /sign in first/ }, `${channel} unsigned`);
  }
});

test('what each role may do, in the words of the four-eyes brief', () => {
  const may = (role: Role, channel: keyof typeof channelRoles): boolean => {
    try {
      authorize(channel, as(role));
      return true;
    } catch {
      return false;
    }
  };
  assert.deepEqual(
    [may('viewer', 'vms.list'), may('viewer', 'jobs.list'), may('viewer', 'restore.entireVm'), may('viewer', 'files.preview')],
    [true, true, false, false],
  );
  assert.deepEqual(
    [may('operator', 'restore.entireVm'), may('operator', 'jobs.approve'), may('operator', 'settings.set')],
    [true, false, false],
  );
  assert.deepEqual(
    [may('approver', 'jobs.approve'), may('approver', 'accounts.add'), may('approver', 'keys.recovery')],
    [true, false, false],
  );
  assert.deepEqual(
    [
      may('administrator', 'accounts.add'),
      may('administrator', 'directory.set'),
      may('administrator', 'settings.set'),
      may('administrator', 'hosts.add'),
    ],
    [true, true, true, true],
  );
});

test('one person whichever way they signed in: local:alice, directory:Alice and a plain alice', () => {
  assert.equal(personOf('local:alice'), personOf('directory:Alice'));
  assert.equal(personOf('os:alice'), personOf(' alice '));
  assert.notEqual(personOf('local:alice'), personOf('local:carol'));
  assert.equal(personOf('local:a:b'), 'a:b');
});

test('--role-map: group DNs with commas and equals signs, cn alone, first RDN', () => {
  const map = parseRoleMap('cn=backup-admins,ou=groups,dc=example,dc=org=administrator, ops=operator ,cn=approvers=approver');
  assert.deepEqual(map, [
    { group: 'cn=backup-admins,ou=groups,dc=example,dc=org', role: 'administrator' },
    { group: 'ops', role: 'operator' },
    { group: 'cn=approvers', role: 'approver' },
  ]);
  const group = { dn: 'cn=Approvers, ou=groups,dc=example,dc=org', cn: ['Approvers'] };
  assert.ok(mappingMatches({ group: 'cn=approvers', role: 'approver' }, group));
  assert.ok(mappingMatches({ group: 'approvers', role: 'approver' }, group));
  assert.ok(mappingMatches({ group: 'CN=Approvers,OU=groups,DC=example,DC=org', role: 'approver' }, group));
  assert.ok(!mappingMatches({ group: 'cn=approvers-old', role: 'approver' }, group));
  assert.ok(!mappingMatches({ group: 'ou=groups', role: 'approver' }, group), 'a parent DN is not the group');
  for (const bad of ['', 'ops', 'ops=root', 'ops=operator,,x=viewer', '=operator', 'ops=operator,extra']) {
    assert.throws(
      () => parseRoleMap(bad),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request',
      bad,
    );
  }
});

test('fuzz: --role-map text is parsed into mappings that print back, or refused with one clear error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc
          .array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom(...roles)), { maxLength: 6 })
          .map((pairs) => pairs.map(([group, role]) => `${group}=${role}`).join(',')),
      ),
      (text) => {
        try {
          const map = parseRoleMap(text);
          assert.ok(map.length > 0);
          for (const mapping of map) assert.ok(mapping.group.length > 0 && roles.includes(mapping.role));
        } catch (error) {
          assert.ok(error instanceof LifeboatError && error.code === 'bad-request', String(error));
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('fuzz: a damaged CLI session file is refused with one clear error, never trusted in part', () => {
  const real = JSON.stringify({
    format: 'lifeboat-cli-session',
    token: 'x'.repeat(43),
    identity: { account: 'carol', role: 'approver', via: 'local', expiresAt: '2026-12-02T18:00:00.000Z' },
  });
  assert.equal(parseSessionFile(real, 'session.json').identity.role, 'approver');
  fc.assert(
    fc.property(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(8), (at, byte, cut) => {
      const damaged = `${real.slice(0, at)}${String.fromCharCode(byte)}${real.slice(at + 1, real.length - cut)}`;
      try {
        const parsed = parseSessionFile(damaged, 'session.json');
        assert.ok(roles.includes(parsed.identity.role));
      } catch (error) {
        assert.ok(error instanceof LifeboatError && /not a Lifeboat session file/.test(error.message), String(error));
      }
    }),
    { numRuns: 400 },
  );
});

test('fuzz: a damaged stored password hash never signs in and never throws', async () => {
  const stored = await hashPassword('correct horse battery');
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batterY', stored), false);
  const fields = stored.split('$');
  // Small costs and more lanes than written: scrypt's memory bound must fit them, not throw.
  for (const [N, p] of [
    ['2', '1'],
    ['4', '4'],
    ['8', '2'],
  ] as const)
    assert.equal(
      await verifyPassword('correct horse battery', ['scrypt', N, fields[2], p, fields[4], fields[5]].join('$')),
      false,
      `N ${N}, p ${p}`,
    );
  await fc.assert(
    fc.asyncProperty(
      fc.nat(fields.length - 1),
      fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '1', '3', '1048576', '2097152', '-8', '1e3', 'NaN', '16', '65536')),
      async (index, value) => {
        const damaged = fields.map((field, at) => (at === index ? value : field)).join('$');
        const verdict = await verifyPassword('correct horse battery', damaged);
        if (damaged !== stored) assert.equal(verdict, false, damaged);
      },
    ),
    { numRuns: 60 },
  );
});
