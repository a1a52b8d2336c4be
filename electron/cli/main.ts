#!/usr/bin/env node
// `lifeboat`: the command line. Every command takes --home and --json, exits non-zero with one
// clear line on bad input, and talks to the engine through the same contract as the console.
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { LifeboatApi, RequestOf } from '../../shared/contract.ts';
import { describeIndexGaps, formatBytes, printableName, table } from '../../shared/format.ts';
import type { PointHealth } from '../../shared/domain.ts';
import { splitVolumePath } from '../../shared/item-paths.ts';
import { Engine } from '../engine/engine.ts';
import { toWireError } from '../errors.ts';
import { homePaths, resolveHome } from '../home.ts';
import { giveToOperator } from '../fs/private-files.ts';
import { keySourceFromProcess } from '../secrets/key-source.ts';
import { createLab } from '../lab/create-lab.ts';
import { connect } from './connect.ts';
import { DEFAULT_SESSION_LIMITS } from '../auth/session-store.ts';
import { checkedOutFile, describeJob, durationMs, localPath, positiveInt, runJobCommand, UsageError, type Output } from './cli-output.ts';
import { promptsCommand, restoreTapeCommand, tapeCommand } from './tape-commands.ts';
import { serve } from './serve.ts';
import { sessionsCommand } from './sessions-command.ts';
import { exitCodeOf, onStopSignal } from './signals.ts';
import { instantCommand } from './instant-commands.ts';
import { arrayCommand, snapshotsCommand } from './array-commands.ts';
import { accountsCommand, directoryCommand, loginCommand, logoutCommand, resumeSession, whoamiCommand } from './auth-commands.ts';
import { copiesCommand, copiesText, keysCommand, passwordFrom, reposCommand, sourceChoice } from './copy-commands.ts';

const usage = `usage: lifeboat [--home DIR] [--json] [--secrets-key-file PATH | --secrets-passphrase-env VAR] <command>
  (host passwords are sealed with a key kept outside the home: --secrets-key-file, $LIFEBOAT_SECRETS_KEY,
   $LIFEBOAT_SECRETS_KEY_FILE, systemd credential lifeboat-secrets-key, a passphrase, or else a key file
   Lifeboat makes in $XDG_CONFIG_HOME/lifeboat-keys; see docs/security.md)
  login [--user U] [--password-env VAR]              sign in (a local or directory account); without it
                                                     you are the OS user running the engine (administrator)
  logout | whoami                                    end the sign-in / show who you are and your role
  accounts [add <name> --role R --password-env VAR | remove <name> | set-role <name> --role R
            | set-password <name> --password-env VAR]   local accounts (administrators); roles:
                                                     viewer, operator, approver, administrator
  directory [set --url ldaps://HOST | --url ldap://HOST --starttls --bind-dn-template 'uid={user},ou=people,dc=…'
             --group-base DN --role-map 'cn=GROUP=ROLE,…' [--ca-file PEM] | off]   directory (LDAP) sign-in
  lab create [--vms N] [--points N] [--disk-mib N]   make demo VMs and back them up
  backup local:<vm-folder> [--encrypt] [--password-env VAR] [--remember-key] [--detach]
                                                     back up a VM folder (VMware layout); --encrypt starts an
                                                     encrypted chain, whose backups then need its password
  vms                                                VMs in the catalog
  points <vm>                                        restore points of a VM, each with its health (damaged: why)
  restore vm <vm> --point <id|seq|latest> --target local:<dir> [--name NEW] [--detach]
     every restore of a backup point also takes: [--from-region R] (cross-region restore, drills)
     [--password-env VAR | --recovery-key FILE] (encrypted points)
  restore vm <vm> --point P --target vsphere:<host> [--name NEW] [--datastore D] [--host-system ESXI]
                  [--network N] [--disk-format thin|thick] [--transport auto|san|hotadd|nbd]
  restore vm <vm> --point P --target vsphere:<host> --original [--yes]   roll the VM back in place
                  (without --yes it shows what would be replaced and stops)
  azure [add --blob-url URL --account NAME --key-env VAR [--name N] | remove <name>]   Azure Storage accounts
  restore vm <vm> --point P --target azure:<account>/<container>   the disks as page blobs + an ARM template
  restore disks <vm> --point P --out DIR --template ovf|arm
                                                     the disks only, with an OVF or ARM template to edit
  hosts [add vsphere --url URL --user U --password-env VAR [--insecure] [--name N]
         | remove <name> | inventory <name>]           hypervisor hosts (passwords go to the secret store)
  proxies [add <name> --host H --transports san,hotadd,nbd [--vm PROXY-VM] [--datastore-path DS=PATH]…
           [--max-tasks N] | remove <name>]          backup proxies for Direct SAN and HotAdd
  verify <vm> [--point P] [--password-env VAR | --recovery-key FILE]
                                                     check each point's metadata and every block hash (or one point's)
  files ls <vm> --point P [/diskN/partM/path]        browse inside a restore point (LVM: /lvm/<vg>/<lv>/path)
  files get <vm> --point P <path>... --out DIR [--on-clash keep-both|overwrite|skip] [--archive zip|tar] [--keep-special-bits]
  files index <vm> --point P                         index a point's files (done after every backup)
  files search <pattern> [--vm V]                    which VMs and points hold a file of that name (part of it, or
                                                     the whole name with * and ? wildcards: '*.conf', 'host?ame')
  audit [verify]                                     the audit log; verify recomputes its hash chain and checks
                                                     its head against audit/anchors.log and the restore points
  settings [set four-eyes on|off]                    original-location restores wait for a second person's approval
  jobs [show <id> | cancel <id> | resume <id> | discard <id> | approve <id>]
                                                     the job queue; resume picks up an interrupted restore,
                                                     discard removes what it left behind
  tape library create --slots N --drives N --mailslots N [--tapes N] [--capacity-mib N]
                      [--time-scale S] [--rate-scale R] [--buffer-mib N]   a virtual tape library in the home
  tape library add iscsi://HOST[:PORT]/IQN | sg:/dev/sgN[,/dev/sgM…] [--name N] [--lun L] [--block-size B]
                   [--chap-user U --chap-secret-env VAR]   a real library: finds its changer and drives, then uses it
  tape library list | use <name|virtual> | remove <name>   the libraries of the home; which one tape jobs use
  tape inventory | copies                            slots, drives, mail slots, tapes; backups on tape
  tape backup <vm>... --pool P [--point P]           copy restore points to a new media set of pool P
  tape eject <barcode> | import <barcode> [--image FILE]   take a tape offline / bring it (or a foreign one) in
  tape catalog <barcode>                             read a tape's own catalog into this catalog
  restore tape <vm>... --point P --target local:<dir>|vsphere:<host> [--staging DIR]
                                                     one job per VM, each tape read once for all of them
  prompts [--all] | prompt answer <id> [--barcode B] what the engine waits for an operator to do
  rehearse <vm>... --point P --target local:<dir>|vsphere:<host> [--network N] [--keep]
                                                     restore, check and time VMs on an isolated target
  rehearsals [report <job-id> --out FILE]            past rehearsals with their measured RTOs; the HTML report
  instant start <vm> --point P --host H [--host-system ESXI] [--name N] [--redirect-to DIR]
                [--listen ADDR:PORT] [--allow IP,…]   run a VM from its backup over NFS (needs \`serve\` or the app)
  instant start <vm> --from-snapshot ID --host H     run it from a clone of a storage snapshot (NFS arrays)
  instant list | migrate <id> --datastore D [--transport auto|san|hotadd] | stop <id>
                                                     Instant Recovery sessions; migrate copies the VM to production
  array create <name> [--path DIR] [--protocol iscsi|fc|nfs] [--clone-quota N] [--time-scale S]
                                                     a file-backed storage array (its folder on XFS or btrfs)
  array snapshot <volume> | show <name> | list       snapshots (restore points of the snapshot tier), clones
  snapshots [--vm V]                                 storage snapshots and the VMs on them
  restore vm <vm>... --from-snapshot <id> --target local:<dir>|vsphere:<host> [--name NEW] [--present-to HOST]
  files get <vm> --from-snapshot <id> <path>... --out DIR   restore VMs or picked items from a clone of a storage snapshot
  repos [add <name> --path DIR --region R --zone Z | locate <name> --region R --zone Z | remove <name>]
                                                     the primary and copy repositories and where they are
  copies [status] [--vm V] | policy none|lrs|zrs|grs | run [<vm>...]
                                                     each point's copies and tiers; copy jobs that verify hashes
  keys [export <key> --password-env VAR --out FILE | remember <key> (--password-env VAR | --recovery-key FILE)
        | forget <key> | set-password <key> (--recovery-key FILE | --password-env VAR) --new-password-env VAR]
                                                     keys of encrypted chains; a recovery key for lost passwords
  serve [--host 127.0.0.1] [--port 7420] [--tls] [--allow-remote] [--tls-cert FILE --tls-key FILE]
        [--session-idle 30m] [--session-max 12h]
                                                     console over HTTP + WebSocket on loopback; HTTPS + WSS
                                                     beyond it (--allow-remote) or with --tls, under your
                                                     certificate or one the engine makes (fingerprint printed)
  sessions [revoke <id> | revoke --all]              console session keys of a running \`serve\`; revoke signs out`;

type Flags = {
  original?: boolean | undefined;
  yes?: boolean | undefined;
  target?: string | undefined;
  datastore?: string | undefined;
  'host-system'?: string | undefined;
  network?: string | undefined;
  'disk-format'?: string | undefined;
  transport?: string | undefined;
  url?: string | undefined;
  user?: string | undefined;
  'password-env'?: string | undefined;
  insecure?: boolean | undefined;
  name?: string | undefined;
};

/** --target local:<dir> or vsphere:<host> with its placement flags; the contract checks values. */
/** A point's health in one cell: ok, or what is wrong (a damaged point's reason in full). */
function healthText(health: PointHealth): string {
  return health.state === 'ok' ? 'ok' : `${health.state}${health.state === 'damaged' ? `: ${health.reason}` : ''}`;
}

/** The command's own engine stops on a signal as a served one does: jobs interrupted, not lost. */
function stopEngineOnSignal(engine: Engine): ReturnType<typeof onStopSignal> {
  return onStopSignal(async (signal) => {
    process.stderr.write(
      `lifeboat: ${signal}: stopping; running jobs are interrupted (\`lifeboat jobs resume <id>\` continues a restore)\n`,
    );
    await engine.close();
  });
}

/** A listing inside a volume (/diskN/partM/... or /lvm/<vg>/<lv>/...) repeats what the volume says
 * about itself, such as a view that may be stale: the listing of the disk or volume group holding it has it. */
async function volumeNotes(api: LifeboatApi, vm: string, point: string, path: string): Promise<string[]> {
  const split = splitVolumePath(path);
  if (!split) return [];
  const parent = split.volume.slice(0, split.volume.lastIndexOf('/'));
  const name = split.volume.slice(parent.length + 1);
  const entry = (await api.invoke('files.list', { vm, point, path: parent })).find((candidate) => candidate.name === name);
  return (entry?.notes ?? []).map((note) => `${printableName(split.volume)}: ${printableName(note)}`);
}

function restoreTarget(values: Flags): RequestOf<'restore.entireVm'>['target'] {
  const target = values.target ?? '';
  if (target.startsWith('vsphere:') && target.length > 'vsphere:'.length) {
    const optional = (key: keyof Flags, field: string) => (values[key] ? { [field]: values[key] } : {});
    return {
      kind: 'vsphere',
      host: target.slice('vsphere:'.length),
      ...optional('datastore', 'datastore'),
      ...optional('host-system', 'hostSystem'),
      ...optional('network', 'network'),
      ...optional('disk-format', 'diskFormat'),
      ...optional('transport', 'transport'),
      ...(values.original ? { original: true, confirmOverwrite: values.yes ?? false } : {}),
    } as RequestOf<'restore.entireVm'>['target'];
  }
  return { kind: 'local', path: localPath(target, '--target (local:<dir> or vsphere:<host>)') };
}

async function hostsCommand(api: LifeboatApi, rest: string[], values: Flags, out: Output): Promise<number> {
  const [action, argument] = rest;
  if (action === undefined) {
    const hosts = await api.invoke('hosts.list', {});
    out.print(
      hosts.length === 0
        ? 'no hosts yet: `lifeboat hosts add vsphere --url https://vcenter/sdk --user U --password-env VAR`'
        : table([
            ['NAME', 'KIND', 'URL', 'USER', 'TLS'],
            ...hosts.map((host) => [host.name, host.kind, host.url, host.user, host.insecure ? 'not verified' : 'verified']),
          ]),
      hosts,
    );
    return 0;
  }
  if (action === 'add') {
    if (argument !== 'vsphere') throw new UsageError('hosts add takes: vsphere --url URL --user U --password-env VAR');
    if (!values.url || !values.user || !values['password-env'])
      throw new UsageError('hosts add vsphere needs --url, --user and --password-env');
    const password = process.env[values['password-env']];
    if (!password) throw new UsageError(`environment variable ${values['password-env']} is empty or not set`);
    const host = await api.invoke('hosts.add', {
      kind: 'vsphere',
      url: values.url,
      user: values.user,
      password,
      insecure: values.insecure ?? false,
      ...(values.name ? { name: values.name } : {}),
    });
    out.print(`host ${host.name} added (${host.url}); its password is in the secret store`, host);
    return 0;
  }
  if (!argument) throw new UsageError(`hosts ${action} takes a host name`);
  if (action === 'remove') {
    out.print(`host ${argument} removed`, await api.invoke('hosts.remove', { host: argument }));
    return 0;
  }
  if (action === 'inventory') {
    const inventory = await api.invoke('hosts.inventory', { host: argument });
    out.print(
      table([
        ['ESXI HOST', 'CONNECTED', 'DATASTORES', 'NETWORKS'],
        ...inventory.hostSystems.map((host) => [
          host.name,
          host.connected ? 'yes' : 'no',
          host.datastores.join(','),
          host.networks.join(','),
        ]),
      ]) +
        '\n\n' +
        table([
          ['DATASTORE', 'TYPE', 'FREE', 'CAPACITY'],
          ...inventory.datastores.map((ds) => [ds.name, ds.type, formatBytes(ds.freeSpace), formatBytes(ds.capacity)]),
        ]),
      inventory,
    );
    return 0;
  }
  throw new UsageError('hosts takes: add | remove <name> | inventory <name>');
}

type ProxyFlags = {
  host?: string | undefined;
  transports?: string | undefined;
  vm?: string | undefined;
  'datastore-path'?: string[] | undefined;
  'max-tasks'?: string | undefined;
};

async function proxiesCommand(api: LifeboatApi, rest: string[], values: ProxyFlags, out: Output): Promise<number> {
  const [action, name] = rest;
  if (action === undefined) {
    const proxies = await api.invoke('proxies.list', {});
    out.print(
      proxies.length === 0
        ? 'no proxies: restores to vSphere use the network (NBD) transport'
        : table([
            ['NAME', 'HOST', 'TRANSPORTS', 'PROXY VM', 'DATASTORES', 'MAX TASKS'],
            ...proxies.map((proxy) => [
              proxy.name,
              proxy.host,
              proxy.transports.join(','),
              proxy.proxyVm ?? '-',
              Object.keys(proxy.datastorePaths).join(','),
              String(proxy.maxTasks),
            ]),
          ]),
      proxies,
    );
    return 0;
  }
  if (!name) throw new UsageError(`proxies ${action} takes a proxy name`);
  if (action === 'remove') {
    out.print(`proxy ${name} removed`, await api.invoke('proxies.remove', { proxy: name }));
    return 0;
  }
  if (action !== 'add') throw new UsageError('proxies takes: add <name> … | remove <name>');
  if (!values.host || !values.transports) throw new UsageError('proxies add needs --host and --transports');
  const datastorePaths: Record<string, string> = {};
  for (const pair of values['datastore-path'] ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new UsageError(`--datastore-path takes DATASTORE=PATH, not ${pair}`);
    datastorePaths[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const proxy = await api.invoke('proxies.add', {
    name,
    host: values.host,
    transports: values.transports.split(',').map((mode) => mode.trim()) as ('san' | 'hotadd' | 'nbd')[],
    proxyVm: values.vm ?? null,
    datastorePaths,
    maxTasks: positiveInt(values['max-tasks'], 2, '--max-tasks'),
  });
  out.print(`proxy ${proxy.name} added for ${proxy.host} (${proxy.transports.join(', ')})`, proxy);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      home: { type: 'string' },
      'secrets-key-file': { type: 'string' },
      'secrets-passphrase-env': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      vms: { type: 'string' },
      points: { type: 'string' },
      'disk-mib': { type: 'string' },
      point: { type: 'string' },
      target: { type: 'string' },
      name: { type: 'string' },
      detach: { type: 'boolean', default: false },
      host: { type: 'string' },
      port: { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
      tls: { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'session-idle': { type: 'string' },
      'session-max': { type: 'string' },
      url: { type: 'string' },
      user: { type: 'string' },
      'password-env': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      operator: { type: 'string' },
      role: { type: 'string' },
      starttls: { type: 'boolean', default: false },
      'bind-dn-template': { type: 'string' },
      'group-base': { type: 'string' },
      'role-map': { type: 'string' },
      'ca-file': { type: 'string' },
      out: { type: 'string' },
      'on-clash': { type: 'string' },
      archive: { type: 'string' },
      'keep-special-bits': { type: 'boolean', default: false },
      original: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      transports: { type: 'string' },
      vm: { type: 'string' },
      'datastore-path': { type: 'string', multiple: true },
      'max-tasks': { type: 'string' },
      datastore: { type: 'string' },
      'host-system': { type: 'string' },
      network: { type: 'string' },
      'disk-format': { type: 'string' },
      transport: { type: 'string' },
      slots: { type: 'string' },
      drives: { type: 'string' },
      mailslots: { type: 'string' },
      tapes: { type: 'string' },
      'capacity-mib': { type: 'string' },
      'time-scale': { type: 'string' },
      'rate-scale': { type: 'string' },
      'buffer-mib': { type: 'string' },
      pool: { type: 'string' },
      image: { type: 'string' },
      listen: { type: 'string' },
      allow: { type: 'string' },
      'redirect-to': { type: 'string' },
      path: { type: 'string' },
      protocol: { type: 'string' },
      template: { type: 'string' },
      'blob-url': { type: 'string' },
      account: { type: 'string' },
      'key-env': { type: 'string' },
      'clone-quota': { type: 'string' },
      'from-snapshot': { type: 'string' },
      'present-to': { type: 'string' },
      staging: { type: 'string' },
      barcode: { type: 'string' },
      all: { type: 'boolean', default: false },
      lun: { type: 'string' },
      'block-size': { type: 'string' },
      'chap-user': { type: 'string' },
      'chap-secret-env': { type: 'string' },
      keep: { type: 'boolean', default: false },
      encrypt: { type: 'boolean', default: false },
      'remember-key': { type: 'boolean', default: false },
      'recovery-key': { type: 'string' },
      'new-password-env': { type: 'string' },
      'from-region': { type: 'string' },
      region: { type: 'string' },
      zone: { type: 'string' },
    },
  });
  const out: Output = {
    json: values.json,
    print: (human, data) => console.log(values.json ? JSON.stringify(data, null, 2) : human),
  };
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  if (values.operator !== undefined)
    throw new UsageError(
      '--operator no longer says who you are: sign in with `lifeboat login --user NAME` (the audit log and the four-eyes rule use the signed-in account)',
    );
  const home = resolveHome(values.home);
  const secretsKey = keySourceFromProcess(
    { keyFile: values['secrets-key-file'], passphraseEnv: values['secrets-passphrase-env'] },
    homedir(),
    existsSync,
  ).source;
  // Paths are the operator's, relative to where the command runs, not to where the engine runs.
  for (const option of ['out', 'redirect-to', 'staging', 'path', 'image'] as const) {
    const given = values[option];
    if (given !== undefined) values[option] = resolve(given);
  }

  if (command === 'serve') {
    const rendererDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'renderer');
    return serve({
      home,
      host: values.host ?? '127.0.0.1',
      port: positiveInt(values.port, 7420, '--port'),
      rendererDir,
      allowRemote: values['allow-remote'],
      forceTls: values.tls,
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
      json: values.json,
      secretsKey,
      sessionLimits: {
        idleMs: durationMs(values['session-idle'], DEFAULT_SESSION_LIMITS.idleMs, '--session-idle'),
        absoluteMs: durationMs(values['session-max'], DEFAULT_SESSION_LIMITS.absoluteMs, '--session-max'),
      },
    });
  }
  const connection = await connect(home, secretsKey);
  const engine = connection.engine;
  const signals = engine ? stopEngineOnSignal(engine) : null;
  const run = async (): Promise<number> => {
    const { api } = connection;
    // Who is at the keyboard is the signed-in account of `lifeboat login`, else the OS user.
    if (command !== 'login' && command !== 'logout') await resumeSession(api, home);
    switch (command) {
      case 'login':
        return await loginCommand(api, home, values, out);
      case 'logout':
        return await logoutCommand(api, home, out);
      case 'whoami':
        return await whoamiCommand(api, out);
      case 'accounts':
        return await accountsCommand(api, rest, values, out);
      case 'directory':
        return await directoryCommand(api, rest, values, out);
      case 'vms': {
        const vms = await api.invoke('vms.list', {});
        out.print(
          vms.length === 0
            ? 'no VMs yet: `lifeboat lab create` makes a demo lab, `lifeboat backup local:<folder>` backs up a VM'
            : table([
                ['NAME', 'ID', 'POINTS', 'DISKS', 'SIZE', 'LATEST'],
                ...vms.map((vm) => [
                  vm.name,
                  vm.id,
                  String(vm.pointCount),
                  String(vm.diskCount),
                  formatBytes(vm.provisionedBytes),
                  vm.latestPointAt ?? '-',
                ]),
              ]),
          vms,
        );
        return 0;
      }
      case 'points': {
        if (!rest[0]) throw new UsageError('points takes a VM name or id');
        const points = await api.invoke('points.list', { vm: rest[0] });
        out.print(
          table([
            ['SEQ', 'ID', 'KIND', 'CREATED', 'CHANGED', 'STORED', 'ENCRYPTED', 'COPIES (FASTEST FIRST)', 'HEALTH'],
            ...points.map((point) => [
              String(point.sequence),
              point.id,
              point.kind,
              point.createdAt,
              formatBytes(point.changedBytes),
              formatBytes(point.storedBytes),
              point.keyId ? 'yes' : 'no',
              copiesText(point.copies),
              healthText(point.health),
            ]),
          ]),
          points,
        );
        return 0;
      }
      case 'backup': {
        const password = passwordFrom(values['password-env'], '--password-env');
        const { job } = await api.invoke('backup.start', {
          source: { kind: 'local', path: localPath(rest[0], 'backup source') },
          encrypt: values.encrypt,
          rememberKey: values['remember-key'],
          ...(password ? { password } : {}),
        });
        return await runJobCommand(api, job, values.detach, out);
      }
      case 'restore': {
        if (rest[0] === 'tape') return await restoreTapeCommand(api, rest.slice(1), restoreTarget(values), values, out);
        if (rest[0] === 'disks') {
          const template = values.template;
          if (!rest[1] || !values.point || !values.out || (template !== 'ovf' && template !== 'arm'))
            throw new UsageError('restore disks takes: <vm> --point P --out DIR --template ovf|arm');
          const { job } = await api.invoke('restore.disks', {
            vm: rest[1],
            point: values.point,
            target: { kind: 'local', path: values.out },
            template,
            ...(await sourceChoice(values)),
          });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (rest[0] === 'vm' && values.target?.startsWith('azure:')) {
          const [account, container] = values.target.slice('azure:'.length).split('/');
          if (!rest[1] || !values.point || !account || !container)
            throw new UsageError('restore vm <vm> --point P --target azure:<account>/<container>');
          const { job } = await api.invoke('restore.azure', {
            vm: rest[1],
            point: values.point,
            account,
            container,
            ...(await sourceChoice(values)),
          });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (rest[0] === 'vm' && values['from-snapshot']) {
          if (rest.length < 2) throw new UsageError('restore vm <vm>... --from-snapshot <id> --target local:<dir>');
          const { job } = await api.invoke('restore.fromSnapshot', {
            vms: rest.slice(1),
            snapshot: values['from-snapshot'],
            target: restoreTarget(values),
            ...(values.name ? { newName: values.name } : {}),
            ...(values['present-to'] ? { host: values['present-to'] } : {}),
          });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (rest[0] !== 'vm' || !rest[1])
          throw new UsageError('restore takes: vm <vm> --point P --target local:<dir>, or tape <vm>... --point P --target …');
        if (!values.point) throw new UsageError('restore vm needs --point <id|sequence|latest>');
        const request = {
          vm: rest[1],
          point: values.point,
          target: restoreTarget(values),
          ...(values.name ? { newName: values.name } : {}),
          ...(await sourceChoice(values)),
        };
        if (request.target.kind === 'vsphere' && request.target.original && !values.yes) {
          const preview = await api.invoke('restore.previewOriginal', { vm: rest[1], point: values.point, host: request.target.host });
          out.print(
            [
              `An original-location restore of ${preview.vmName} on ${preview.hostSystem} (${preview.powerState}) would:`,
              ...preview.disks.map((disk) => `  replace ${disk.file} (${formatBytes(disk.capacity)}) with ${disk.key} of the point`),
              `  after taking the safety snapshot ${preview.safetySnapshot}, which is kept`,
              'Run again with --yes to do it.',
            ].join('\n'),
            preview,
          );
          return 2;
        }
        const { job } = await api.invoke('restore.entireVm', request);
        return await runJobCommand(api, job, values.detach, out);
      }
      case 'jobs': {
        if (rest[0] === 'resume') {
          if (!rest[1]) throw new UsageError('jobs resume takes a job id');
          const { job } = await api.invoke('jobs.resume', { jobId: rest[1] });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (rest[0] === 'approve') {
          if (!rest[1]) throw new UsageError('jobs approve takes a job id');
          const { job } = await api.invoke('jobs.approve', { jobId: rest[1] });
          out.print(`job ${job.id} approved; it is queued`, job);
          return 0;
        }
        if (rest[0] === 'discard') {
          if (!rest[1]) throw new UsageError('jobs discard takes a job id');
          const { job } = await api.invoke('jobs.discard', { jobId: rest[1] });
          out.print(`job ${job.id} discarded; what it left behind is removed`, job);
          return 0;
        }
        if (rest[0] === 'show' || rest[0] === 'cancel') {
          if (!rest[1]) throw new UsageError(`jobs ${rest[0]} takes a job id`);
          if (rest[0] === 'cancel') {
            const { job } = await api.invoke('jobs.cancel', { jobId: rest[1] });
            out.print(`cancel requested for job ${job.id}`, job);
            return 0;
          }
          const detail = await api.invoke('jobs.get', { jobId: rest[1] });
          out.print(
            `${describeJob(detail.job)}\n${detail.events.map((event) => `${event.at} ${event.level} ${event.message}`).join('\n')}`,
            detail,
          );
          return 0;
        }
        const jobs = await api.invoke('jobs.list', {});
        out.print(
          table([
            ['ID', 'KIND', 'VM', 'STATE', 'PROGRESS', 'CREATED'],
            ...jobs.map((job) => [
              job.id,
              job.kind,
              job.vmName,
              job.state,
              job.bytesTotal > 0 ? `${Math.floor((job.bytesDone * 100) / job.bytesTotal)}%` : '-',
              job.createdAt,
            ]),
          ]),
          jobs,
        );
        return 0;
      }
      case 'files': {
        const [action, vm, ...paths] = rest;
        if (action === 'search') {
          if (!vm) throw new UsageError('files search takes a pattern');
          const found = await api.invoke('files.search', { pattern: vm, ...(values.vm ? { vm: values.vm } : {}) });
          const hits =
            found.hits.length === 0
              ? 'no file of that name in the index'
              : found.hits
                  .map(
                    (hit) =>
                      `${printableName(hit.vmName)} ${printableName(hit.path)}\n${hit.versions.map((version) => `    point ${version.sequence}: ${formatBytes(version.size)}${version.mtime ? `, modified ${new Date(version.mtime * 1000).toISOString()}` : ''}`).join('\n')}`,
                  )
                  .join('\n');
          out.print([hits, ...found.gaps.flatMap(describeIndexGaps).map((line) => `note: ${line}`)].join('\n'), found);
          return 0;
        }
        if (!vm || (action !== 'ls' && action !== 'get' && action !== 'index'))
          throw new UsageError('files takes: ls | get | index | search');
        const onClash = (values['on-clash'] ?? 'keep-both') as 'keep-both' | 'overwrite' | 'skip';
        const archive = values.archive as 'zip' | 'tar' | undefined;
        if (action === 'get' && values['from-snapshot']) {
          if (paths.length === 0 || !values.out) throw new UsageError('files get needs paths and --out DIR');
          const { job } = await api.invoke('files.restoreFromSnapshot', {
            vm,
            snapshot: values['from-snapshot'],
            paths,
            target: { kind: 'local', path: values.out },
            onClash,
            keepSpecialBits: values['keep-special-bits'],
            ...(archive ? { archive } : {}),
            ...(values['present-to'] ? { host: values['present-to'] } : {}),
          });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (!values.point) throw new UsageError(`files ${action} needs --point <id|sequence|latest>`);
        if (action === 'index') {
          const { job } = await api.invoke('files.index', { vm, point: values.point });
          return await runJobCommand(api, job, values.detach, out);
        }
        if (action === 'ls') {
          const path = paths[0] ?? '/';
          const entries = await api.invoke('files.list', { vm, point: values.point, path });
          // Names, problems and notes hold the guest's bytes (names, LVM metadata): control characters
          // are shown escaped (--json keeps them raw).
          const rows = table([
            ['TYPE', 'SIZE', 'MODIFIED', 'NAME'],
            ...entries.map((entry) => [
              entry.type,
              entry.type === 'file' ? formatBytes(entry.size) : '',
              entry.mtime ?? '',
              entry.problem !== undefined
                ? `${printableName(entry.name)} (could not be read: ${printableName(entry.problem)})`
                : entry.target
                  ? `${printableName(entry.name)} -> ${printableName(entry.target)}`
                  : printableName(entry.name),
            ]),
          ]);
          const notes = [
            ...entries.flatMap((entry) => (entry.notes ?? []).map((note) => `${printableName(entry.name)}: ${printableName(note)}`)),
            ...(await volumeNotes(api, vm, values.point, path)),
          ];
          out.print([rows, ...notes.map((note) => `note: ${note}`)].join('\n'), entries);
          return 0;
        }
        if (paths.length === 0 || !values.out) throw new UsageError('files get needs paths and --out DIR');
        const { job } = await api.invoke('files.restore', {
          vm,
          point: values.point,
          paths,
          target: { kind: 'local', path: values.out },
          onClash,
          keepSpecialBits: values['keep-special-bits'],
          ...(archive ? { archive } : {}),
          ...(await sourceChoice(values)),
        });
        return await runJobCommand(api, job, values.detach, out);
      }
      case 'verify': {
        if (!rest[0]) throw new UsageError('verify takes a VM name or id');
        const { password, recoveryKey } = await sourceChoice(values);
        const { job } = await api.invoke('verify.start', {
          vm: rest[0],
          ...(values.point ? { point: values.point } : {}),
          ...(password ? { password } : {}),
          ...(recoveryKey ? { recoveryKey } : {}),
        });
        return await runJobCommand(api, job, values.detach, out);
      }
      case 'settings': {
        if (rest[0] === 'set') {
          if (rest[1] !== 'four-eyes' || (rest[2] !== 'on' && rest[2] !== 'off'))
            throw new UsageError('settings set takes: four-eyes on|off');
          const settings = await api.invoke('settings.set', { fourEyes: rest[2] === 'on' });
          out.print(`four-eyes rule ${settings.fourEyes ? 'on' : 'off'}`, settings);
          return 0;
        }
        const settings = await api.invoke('settings.get', {});
        out.print(
          `four-eyes rule: ${settings.fourEyes ? 'on (original-location restores wait for a second person to approve)' : 'off'}\ncopy policy: ${settings.copyPolicy.toUpperCase()} (\`lifeboat copies policy …\` sets it)`,
          settings,
        );
        return 0;
      }
      case 'audit': {
        if (rest[0] === 'verify') {
          const check = await api.invoke('audit.verify', {});
          out.print(
            check.intact
              ? `audit log intact: ${check.entries} entries, hash chain verified against its anchors and the restore points`
              : `audit log TAMPERED: ${check.problem}`,
            check,
          );
          return check.intact ? 0 : 1;
        }
        const entries = await api.invoke('audit.list', {});
        out.print(
          table([
            ['AT', 'ACTOR', 'ACTION', 'SUBJECT'],
            ...entries.map((entry) => [entry.at, entry.actor, entry.action, entry.subject ?? '-']),
          ]),
          entries,
        );
        return 0;
      }
      case 'hosts':
        return await hostsCommand(api, rest, values, out);
      case 'tape':
        return await tapeCommand(api, rest, values, out);
      case 'rehearse': {
        if (rest.length === 0) throw new UsageError('rehearse takes: <vm>... --point P --target local:<dir>|vsphere:<host> [--keep]');
        const target = restoreTarget(values);
        const { job } = await api.invoke('rehearsal.start', {
          vms: rest,
          point: values.point ?? 'latest',
          target:
            target.kind === 'local'
              ? target
              : {
                  kind: 'vsphere',
                  host: target.host,
                  ...(target.datastore ? { datastore: target.datastore } : {}),
                  ...(target.network ? { network: target.network } : {}),
                },
          keep: values.keep,
        });
        return await runJobCommand(api, job, values.detach, out);
      }
      case 'rehearsals': {
        if (rest[0] === 'report') {
          if (!rest[1] || !values.out) throw new UsageError('rehearsals report takes: <job-id> --out FILE');
          const file = await checkedOutFile(api, home, values.out);
          const { html } = await api.invoke('rehearsal.report', { jobId: rest[1] });
          await writeFile(file, html);
          await giveToOperator(file); // the operator's report, not one of the engine's private files
          out.print(`report written to ${file}`, { path: file });
          return 0;
        }
        const rehearsals = (await api.invoke('jobs.list', {})).filter((job) => job.kind === 'rehearsal');
        const rows = rehearsals.flatMap((job) =>
          ((job.result?.vms as { vm: string; state: string; rtoSeconds: number | null }[] | undefined) ?? []).map((vm) => [
            job.id,
            job.endedAt ?? job.state,
            vm.vm,
            vm.state,
            vm.rtoSeconds === null ? '-' : `${vm.rtoSeconds} s`,
          ]),
        );
        out.print(rehearsals.length === 0 ? 'no rehearsals yet' : table([['JOB', 'ENDED', 'VM', 'RESULT', 'RTO'], ...rows]), rehearsals);
        return 0;
      }
      case 'prompts':
      case 'prompt':
        return await promptsCommand(api, command, rest, values, out);
      case 'proxies':
        return await proxiesCommand(api, rest, values, out);
      case 'instant':
        return await instantCommand(api, rest, values, out, connection.engine !== null);
      case 'array':
        return await arrayCommand(api, rest, values, out);
      case 'azure': {
        if (rest[0] === 'add') {
          const variable = values['key-env'];
          if (!values['blob-url'] || !values.account || !variable)
            throw new UsageError('azure add takes: --blob-url URL --account NAME --key-env VAR [--name N]');
          const key = process.env[variable];
          if (!key) throw new UsageError(`environment variable ${variable} is empty; put the account key there`);
          const account = await api.invoke('azure.add', {
            blobUrl: values['blob-url'],
            accountName: values.account,
            key,
            ...(values.name ? { name: values.name } : {}),
          });
          out.print(
            `Azure account ${account.name} (${account.accountName} at ${account.blobUrl}) added; its key is in the secret store`,
            account,
          );
          return 0;
        }
        if (rest[0] === 'remove') {
          if (!rest[1]) throw new UsageError('azure remove takes a name');
          out.print(`removed ${(await api.invoke('azure.remove', { name: rest[1] })).removed}`, { removed: rest[1] });
          return 0;
        }
        const accounts = await api.invoke('azure.list', {});
        out.print(
          accounts.length === 0
            ? 'no Azure accounts'
            : table([
                ['NAME', 'ACCOUNT', 'BLOB ENDPOINT'],
                ...accounts.map((account) => [account.name, account.accountName, account.blobUrl]),
              ]),
          accounts,
        );
        return 0;
      }
      case 'snapshots':
        return await snapshotsCommand(api, values, out);
      case 'repos':
        return await reposCommand(api, rest, values, out);
      case 'copies':
        return await copiesCommand(api, rest, values, out);
      case 'keys':
        return await keysCommand(api, rest, values, out, home);
      case 'sessions':
        return await sessionsCommand(api, rest, values.all, out);
      case 'lab': {
        if (rest[0] !== 'create') throw new UsageError('lab takes: create');
        // The lab is the home's: its folders sit beside the catalog, whichever engine backs them up.
        const labFolder = homePaths(home).lab;
        const vms = await createLab(
          api,
          labFolder,
          {
            vms: positiveInt(values.vms, 3, '--vms'),
            points: positiveInt(values.points, 3, '--points'),
            diskMib: positiveInt(values['disk-mib'], 64, '--disk-mib'),
          },
          (line) => {
            if (!values.json) process.stderr.write(`${line}\n`);
          },
        );
        out.print(`lab ready in ${labFolder}: ${vms.map((vm) => vm.name).join(', ')}`, vms);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}; \`lifeboat --help\` lists them`);
    }
  };
  let code: number;
  try {
    code = await run();
  } finally {
    await connection.close();
    signals?.remove();
  }
  // A stop signal (during the job or while its follow-ups drained) is the command's end.
  const signal = signals?.received();
  return signal ? exitCodeOf(signal) : code;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const wire =
        error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? { code: 'bad-request', message: error.message }
          : toWireError(error);
      if (process.argv.includes('--json')) console.log(JSON.stringify({ error: wire }));
      else console.error(`lifeboat: ${wire.message}`);
      process.exitCode = wire.code === 'internal' ? 3 : 2;
    },
  );
}
