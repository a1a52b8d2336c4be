// What `lifeboat --help` prints: kept apart so that --help loads nothing else.
export const usage = `usage: lifeboat [--home DIR] [--catalog postgresql://…] [--json] [--secrets-key-file PATH | --secrets-passphrase-env VAR] <command>
  (--catalog puts a new home's catalog on PostgreSQL, recorded in the home; the default is its SQLite file)
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
  backup vsphere:<host>/<vm> [--transport auto|san|hotadd|nbd] [--quiesce] [--encrypt …] [--detach]
                                                     back up a VM where it runs, through a snapshot (removed
                                                     afterwards); --quiesce asks VMware Tools to quiesce the guest
  vms                                                VMs in the catalog
  points <vm>                                        restore points of a VM, each with its health (damaged: why)
  restore vm <vm> --point <id|seq|latest> --target local:<dir> [--name NEW] [--detach]
     every restore of a backup point also takes: [--from-region R] (cross-region restore, drills)
     [--password-env VAR | --recovery-key FILE] (encrypted points)
  restore vm <vm> --point P --target vsphere:<host> [--name NEW] [--datastore D] [--host-system ESXI]
                  [--network N] [--disk-format thin|thick] [--transport auto|san|hotadd|nbd]
                  [--disk-datastore DISK=DS]... [--network-map SOURCE=TARGET]... [--identity new|keep] [--power-on]
     every restore also takes [--reason TEXT] (kept in the audit log and the job's first event)
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
  movers [list | add <name> --host H [--proxy-vm VM] | remove <name>]
                                                     data movers on proxy hosts: add prints a one-time join
                                                     token and the \`lifeboat mover\` line to run there;
                                                     remove revokes the mover's certificate
  verify <vm> [--point P] [--password-env VAR | --recovery-key FILE]
                                                     check each point's metadata and every block hash (or one point's)
  files ls <vm> --point P [/diskN/partM/path] [--from-index | --from-point]
                                                     browse inside a restore point (LVM: /lvm/<vg>/<lv>/path),
                                                     from its file index where that gives the same listing;
                                                     --from-index: what the index holds and left out, without
                                                     opening the point (its disks may be on tape or offline);
                                                     --from-point: read the point's disks, not the index
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
  mover --engine HOST:PORT --state DIR [--token T] [--datastore NAME=PATH]… [--transports san,hotadd,nbd]
        [--slots N]                                  the data mover of a proxy host: joins with the token of
                                                     \`movers add\` once, then carries restores' disk writes
  catalog migrate --from sqlite:<home> --to postgresql://…
                                                     move a home's SQLite catalog into an empty PostgreSQL
                                                     database, every table's rows and hash checked; the home
                                                     then uses it (the SQLite file is kept, set aside)
  serve [--host 127.0.0.1] [--port 7420] [--tls] [--allow-remote] [--tls-cert FILE --tls-key FILE]
        [--session-idle 30m] [--session-max 12h] [--movers HOST:PORT] [--shared]
                                                     console over HTTP + WebSocket on loopback; HTTPS + WSS
                                                     beyond it (--allow-remote) or with --tls, under your
                                                     certificate or one the engine makes (fingerprint printed);
                                                     --movers opens the port data movers connect to (mutual TLS);
                                                     --shared: several engines share the home's PostgreSQL
                                                     catalog and its job queue, and take over each other's
                                                     jobs (docs/catalog-postgresql.md)
  sessions [revoke <id> | revoke --all]              console session keys of a running \`serve\`; revoke signs out`;
