// A real OpenLDAP server for the directory sign-in tests: Debian's slapd with its own temporary
// database and a CA + server certificate made with openssl, on loopback ports (plain ldap:// for
// StartTLS, and ldaps://). Users and groups are loaded with ldapadd. Stopped after the test file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from './env.ts';
import { freePort } from '../../scripts/peers/free-port.ts';

const run = promisify(execFile);

export const SUFFIX = 'dc=example,dc=org';
const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PW = 'root-secret';

export type Slapd = {
  ldapUrl: string;
  ldapsUrl: string;
  /** The CA that signed the server's certificate, and one that did not. */
  caPem: string;
  otherCaPem: string;
  stop(): Promise<void>;
};

/** Which test needs slapd, and why it cannot run when the tools are missing. */
export async function slapdUnavailable(): Promise<string | null> {
  try {
    await run('sh', ['-c', 'command -v slapd && command -v ldapadd && command -v openssl && test -e /usr/lib/ldap/back_mdb.so']);
    return null;
  } catch {
    return 'slapd, ldap-utils and openssl are needed (apt-get install slapd ldap-utils openssl)';
  }
}

async function makeCa(dir: string, name: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { key, cert };
}

async function makeServerCert(dir: string, ca: { key: string; cert: string }): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const extensions = join(dir, 'server.ext');
  await writeFile(extensions, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', csr]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    extensions,
    '-out',
    cert,
  ]);
  return { key, cert };
}

function config(dir: string, ca: string, server: { key: string; cert: string }): string {
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((schema) => `include /etc/ldap/schema/${schema}.schema`),
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    `TLSCACertificateFile ${ca}`,
    `TLSCertificateFile ${server.cert}`,
    `TLSCertificateKeyFile ${server.key}`,
    'database mdb',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PW}`,
    `directory ${join(dir, 'db')}`,
    'maxsize 67108864',
    // Users may bind and read; nobody but the root DN writes.
    'access to attrs=userPassword by anonymous auth by * none',
    'access to * by * read',
    '',
  ].join('\n');
}

export type DirectoryUser = { uid: string; password: string };
export type DirectoryGroup = { cn: string; kind: 'groupOfNames' | 'groupOfUniqueNames' | 'posixGroup'; members: string[] };

function ldif(users: DirectoryUser[], groups: DirectoryGroup[]): string {
  const entries = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups`,
    ...users.map(
      (user) =>
        `dn: uid=${user.uid},ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${user.uid}\ncn: ${user.uid}\nsn: ${user.uid}\nuserPassword: ${user.password}`,
    ),
    ...groups.map((group, index) => {
      const head = `dn: cn=${group.cn},ou=groups,${SUFFIX}\nobjectClass: ${group.kind}\ncn: ${group.cn}`;
      if (group.kind === 'posixGroup')
        return `${head}\ngidNumber: ${5000 + index}${group.members.map((uid) => `\nmemberUid: ${uid}`).join('')}`;
      const attribute = group.kind === 'groupOfNames' ? 'member' : 'uniqueMember';
      return `${head}${group.members.map((uid) => `\n${attribute}: uid=${uid},ou=people,${SUFFIX}`).join('')}`;
    }),
  ];
  return `${entries.join('\n\n')}\n`;
}

export async function startSlapd(users: DirectoryUser[], groups: DirectoryGroup[]): Promise<Slapd> {
  const dir = await tempDir('lifeboat-slapd-');
  await mkdir(join(dir, 'db'));
  const ca = await makeCa(dir, 'test-ca');
  const other = await makeCa(dir, 'other-ca');
  const server = await makeServerCert(dir, ca);
  const conf = join(dir, 'slapd.conf');
  await writeFile(conf, config(dir, ca.cert, server));
  const [ldapPort, ldapsPort] = [await freePort(), await freePort()];
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  const daemon: ChildProcess = spawn('slapd', ['-d', '0', '-h', `${ldapUrl}/ ${ldapsUrl}/`, '-f', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  daemon.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    daemon.kill('SIGKILL');
    await exited;
  };
  after(stop);
  // Bounded: slapd answers within a few hundred milliseconds on a quiet machine.
  for (let attempt = 0; ; attempt++) {
    if (daemon.exitCode !== null) throw new Error(`slapd exited with ${daemon.exitCode}: ${stderr}`);
    try {
      await run('ldapsearch', ['-x', '-H', ldapUrl, '-b', '', '-s', 'base', '-o', 'nettimeout=2']);
      break;
    } catch (error) {
      if (attempt >= 100) throw new Error(`slapd did not answer on ${ldapUrl}: ${stderr || String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const data = join(dir, 'data.ldif');
  await writeFile(data, ldif(users, groups));
  await run('ldapadd', ['-x', '-H', ldapUrl, '-D', ROOT_DN, '-w', ROOT_PW, '-f', data]);
  return { ldapUrl, ldapsUrl, caPem: await readFile(ca.cert, 'utf8'), otherCaPem: await readFile(other.cert, 'utf8'), stop };
}
