// Directory sign-in against a real OpenLDAP (slapd) with its own database and certificates:
// simple bind over ldaps:// and over StartTLS, groups of all three kinds mapped to roles, and
// one clear error for each way it can fail, the directory killed last.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DirectoryConfig, SignedIn } from '../../shared/accounts.ts';
import type { Job } from '../../shared/domain.ts';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { parseRoleMap } from '../../electron/auth/role-map.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { Plan } from '../../electron/jobs/plan.ts';
import { main } from '../../electron/cli/main.ts';
import { readSession } from '../../electron/cli/session-file.ts';
import { openEngine, tempDir } from '../helpers/env.ts';
import { SUFFIX, slapdUnavailable, startSlapd, type Slapd } from '../helpers/slapd.ts';

const missing = await slapdUnavailable();
const slapd: Slapd | null = missing
  ? null
  : await startSlapd(
      ['alice', 'carol', 'dave', 'erin', 'alice2'].map((uid) => ({ uid, password: `${uid}-directory-pw` })),
      [
        { cn: 'backup-operators', kind: 'groupOfNames', members: ['alice', 'carol'] },
        { cn: 'backup-approvers', kind: 'groupOfUniqueNames', members: ['carol'] },
        { cn: 'backup-admins', kind: 'posixGroup', members: ['dave'] },
        { cn: 'staff', kind: 'groupOfNames', members: ['erin', 'alice', 'carol', 'dave'] },
      ],
    );
const engine = await openEngine(join(await tempDir(), 'home'));
const owner = new Peer(osCaller());

function directory(overrides: Partial<DirectoryConfig> = {}): DirectoryConfig {
  return {
    url: (slapd as Slapd).ldapsUrl,
    startTls: false,
    bindDnTemplate: `uid={user},ou=people,${SUFFIX}`,
    groupBase: `ou=groups,${SUFFIX}`,
    roleMap: parseRoleMap(`cn=backup-operators=operator,backup-approvers=approver,cn=backup-admins,ou=groups,${SUFFIX}=administrator`),
    caPem: (slapd as Slapd).caPem,
    ...overrides,
  };
}

async function login(user: string, password = `${user}-directory-pw`): Promise<SignedIn> {
  return ((await dispatch(engine, new Peer(null), 'auth.login', { user, password })) as { identity: SignedIn }).identity;
}

test('over ldaps:// the right password gives a session with the role of the highest mapped group', { skip: missing ?? false }, async () => {
  await dispatch(engine, owner, 'directory.set', { directory: directory() });
  const alice = await login('alice');
  assert.deepEqual([alice.account, alice.role, alice.via], ['alice', 'operator', 'directory']);
  assert.equal((await login('carol')).role, 'approver', 'groupOfUniqueNames, higher than her operator group');
  assert.equal((await login('dave')).role, 'administrator', 'posixGroup memberUid, mapped by its full DN');
  assert.ok(engine.catalog.auditEntries().some((entry) => entry.actor === 'directory:alice' && entry.action === 'auth.login'));
});

test(
  'over ldap:// with StartTLS as well; plain ldap:// without it is refused before it is stored',
  { skip: missing ?? false },
  async () => {
    await assert.rejects(dispatch(engine, owner, 'directory.set', { directory: directory({ url: (slapd as Slapd).ldapUrl }) }), {
      code: 'bad-request',
      message: /in clear: use ldaps:\/\/, or ldap:\/\/ with --starttls/,
    });
    assert.equal(
      ((await dispatch(engine, owner, 'directory.get', {})) as DirectoryConfig).url,
      (slapd as Slapd).ldapsUrl,
      'the refused settings changed nothing',
    );
    await dispatch(engine, owner, 'directory.set', { directory: directory({ url: (slapd as Slapd).ldapUrl, startTls: true }) });
    assert.equal((await login('carol')).role, 'approver');
  },
);

test('wrong password, unknown user, no mapped group, untrusted certificate: one clear error each', { skip: missing ?? false }, async () => {
  await dispatch(engine, owner, 'directory.set', { directory: directory() });
  await assert.rejects(login('alice', 'not-her-password'), { code: 'unauthorized', message: 'wrong user name or password' });
  await assert.rejects(login('mallory'), { code: 'unauthorized', message: 'wrong user name or password' });
  await assert.rejects(login('erin'), { code: 'unauthorized', message: /erin is in no directory group mapped to a Lifeboat role/ });
  for (const user of ['*', 'alice)(uid=*', 'alice,ou=people', 'cn=admin']) {
    await assert.rejects(login(user, 'x'), { code: 'bad-request' }, user);
  }
  await dispatch(engine, owner, 'directory.set', { directory: directory({ caPem: (slapd as Slapd).otherCaPem }) });
  await assert.rejects(login('alice'), {
    code: 'unavailable',
    message: /is not trusted: its certificate does not chain to the configured CA/,
  });
  await dispatch(engine, owner, 'directory.set', {
    directory: directory({ url: (slapd as Slapd).ldapUrl, startTls: true, caPem: (slapd as Slapd).otherCaPem }),
  });
  await assert.rejects(
    login('alice'),
    { code: 'unavailable', message: /is not trusted/ },
    'StartTLS checks the certificate before the password is sent',
  );
  await dispatch(engine, owner, 'directory.set', { directory: directory({ caPem: null }) });
  await assert.rejects(login('alice'), { code: 'unavailable', message: /is not trusted/ }, 'a private CA is not in the system store');
});

test(
  'a local account of the same name wins, and a directory alice is the same person as a local alice for four-eyes',
  { skip: missing ?? false },
  async () => {
    await dispatch(engine, owner, 'directory.set', { directory: directory() });
    await dispatch(engine, owner, 'accounts.add', { name: 'alice2', role: 'viewer', password: 'local-alice2-password' });
    await assert.rejects(login('alice2'), { code: 'unauthorized' }, 'the directory password does not open the local account');
    assert.equal((await login('alice2', 'local-alice2-password')).via, 'local');
    // A held job asked for by local:carol is not approved by directory:carol.
    const job: Job = engine.jobs.submit(
      { kind: 'restore-entire-vm', vmId: null, vmName: 'x', summary: 'held', params: {}, requestedBy: 'local:carol', holdFor: 'approval' },
      () => ({
        plan: Plan.of<null>()
          .step('restore', 'Restore', async () => {
            throw new Error('never runs');
          })
          .bind(null),
        finish: async () => undefined,
        result: () => ({}),
      }),
    );
    const carol = new Peer(null);
    await dispatch(engine, carol, 'auth.login', { user: 'carol', password: 'carol-directory-pw' });
    await assert.rejects(dispatch(engine, carol, 'jobs.approve', { jobId: job.id }), { code: 'conflict', message: /second person/ });
    engine.jobs.cancel(job.id);
  },
);

test(
  'the CLI sets the directory from its flags and a CA file, and a directory user signs in through the running engine',
  { skip: missing ?? false },
  async () => {
    const home = engine.paths.home;
    const caFile = join(home, 'directory-ca.pem');
    await writeFile(caFile, (slapd as Slapd).caPem);
    const roleMap = `cn=backup-operators=operator,cn=backup-approvers,ou=groups,${SUFFIX}=approver`;
    const set = [
      '--home',
      home,
      'directory',
      'set',
      '--url',
      (slapd as Slapd).ldapUrl,
      '--starttls',
      '--bind-dn-template',
      `uid={user},ou=people,${SUFFIX}`,
      '--group-base',
      `ou=groups,${SUFFIX}`,
      '--role-map',
      roleMap,
      '--ca-file',
      caFile,
    ];
    assert.equal(await main(set), 0);
    const stored = (await dispatch(engine, owner, 'directory.get', {})) as DirectoryConfig;
    assert.deepEqual(
      [stored.startTls, stored.roleMap.at(-1)?.group, stored.caPem],
      [true, `cn=backup-approvers,ou=groups,${SUFFIX}`, (slapd as Slapd).caPem],
    );
    await assert.rejects(main([...set.slice(0, 4), '--url', (slapd as Slapd).ldapUrl, ...set.slice(7)]), {
      code: 'bad-request',
      message: /in clear/,
    });
    process.env.LB_TEST_DIRECTORY_PW = 'carol-directory-pw';
    try {
      assert.equal(await main(['--home', home, 'login', '--user', 'carol', '--password-env', 'LB_TEST_DIRECTORY_PW']), 0);
      const session = await readSession(home);
      assert.deepEqual([session?.identity.account, session?.identity.via, session?.identity.role], ['carol', 'directory', 'approver']);
      assert.equal(await main(['--home', home, 'logout']), 0);
      assert.equal(await readSession(home), null);
    } finally {
      delete process.env.LB_TEST_DIRECTORY_PW;
    }
  },
);

test(
  'directory down: sign-in is refused with one clear error, and directory sessions end when the settings change',
  { skip: missing ?? false },
  async () => {
    await dispatch(engine, owner, 'directory.set', { directory: directory() });
    const dave = new Peer(null);
    await dispatch(engine, dave, 'auth.login', { user: 'dave', password: 'dave-directory-pw' });
    await (slapd as Slapd).stop();
    await assert.rejects(login('alice'), { code: 'unavailable', message: /does not answer/ });
    await dispatch(engine, owner, 'directory.set', { directory: null });
    await assert.rejects(dispatch(engine, dave, 'vms.list', {}), { code: 'unauthorized', message: /sign-in has ended/ });
    await assert.rejects(
      login('alice'),
      { code: 'unauthorized', message: 'wrong user name or password' },
      'no directory: only local accounts',
    );
  },
);
