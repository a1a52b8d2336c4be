// `lifeboat tape …`, `restore tape …`, `prompts` and `prompt answer`: the tape library, backup to
// tape, cataloguing a tape, restores from tape with their pull list, and operator prompts.
import type { LifeboatApi, RequestOf } from '../../shared/contract.ts';
import type { Job, Prompt, PullListEntry, TapeInventory, TapeLibrarySource } from '../../shared/domain.ts';
import { finishedJobStates } from '../../shared/domain.ts';
import { formatBytes, table } from '../../shared/format.ts';
import { describeJob, follow, positiveInt, runJobCommand, UsageError, type Output } from './cli-output.ts';

export type TapeFlags = {
  reason?: string | undefined;
  slots?: string | undefined;
  drives?: string | undefined;
  mailslots?: string | undefined;
  tapes?: string | undefined;
  'capacity-mib'?: string | undefined;
  'time-scale'?: string | undefined;
  'rate-scale'?: string | undefined;
  'buffer-mib'?: string | undefined;
  pool?: string | undefined;
  point?: string | undefined;
  image?: string | undefined;
  staging?: string | undefined;
  barcode?: string | undefined;
  all?: boolean | undefined;
  name?: string | undefined;
  lun?: string | undefined;
  'block-size'?: string | undefined;
  'chap-user'?: string | undefined;
  'chap-secret-env'?: string | undefined;
  detach: boolean;
};

function positiveNumber(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new UsageError(`${name} takes a positive number`);
  return number;
}

function where(location: TapeInventory['cartridges'][number]['location']): string {
  return location.kind === 'offline' ? 'offline' : `${location.kind} ${location.index + 1}`;
}

/** What the library is: the virtual one, or a real one with its changer and drives. */
export function sourceText(source: TapeLibrarySource): string[] {
  if (source.kind === 'virtual') return ['library: virtual (SIMH images in the home)'];
  const unit = (device: { vendor: string; product: string; revision: string; serial: string | null; address: string }): string =>
    `${device.vendor} ${device.product} ${device.revision}${device.serial ? ` serial ${device.serial}` : ''} at ${device.address}`;
  return [
    `library: ${source.configured ?? '?'} (${source.kind === 'iscsi' ? 'iSCSI' : 'SCSI generic'}) ${source.address ?? ''}`,
    ...(source.changer ? [`changer: ${unit(source.changer)}`] : []),
    ...source.drives.map((drive, index) => `drive ${index + 1} (element ${drive.element}): ${unit(drive)}`),
  ];
}

export function inventoryText(inventory: TapeInventory): string {
  const drives = inventory.drives.map(
    (drive) => `drive ${drive.index + 1}: ${drive.barcode ?? 'empty'}${drive.owner ? ` (${drive.owner})` : ''}`,
  );
  const mail = inventory.mailslots.map((slot, index) => `mail slot ${index + 1}: ${slot ?? 'empty'}`);
  // A real drive's rate is not known to Lifeboat: the modelled one only sizes the pull list's estimates.
  const rate =
    inventory.source.kind === 'virtual'
      ? ` at ${formatBytes(inventory.model.bytesPerSecond)}/s`
      : ` (estimates assume ${formatBytes(inventory.model.bytesPerSecond)}/s)`;
  const rows = inventory.cartridges.map((tape) => [
    tape.barcode,
    where(tape.location),
    tape.pool ?? 'free',
    tape.mediaSetId ? tape.mediaSetId.slice(0, 8) : '-',
    tape.bytes === null ? '-' : formatBytes(tape.bytes),
    tape.capacityBytes === 0 ? 'unknown' : formatBytes(tape.capacityBytes),
    tape.writeProtected ? 'yes' : 'no',
  ]);
  return [
    ...sourceText(inventory.source),
    `${inventory.name}: ${inventory.slots.length} slots, ${inventory.drives.length} drive(s) ${inventory.model.name}${rate}, ${inventory.mailslots.length} mail slot(s)${inventory.timeScale !== 1 ? `, time scale ${inventory.timeScale}` : ''}`,
    ...drives,
    ...mail,
    table([['BARCODE', 'WHERE', 'POOL', 'MEDIA SET', 'WRITTEN', 'CAPACITY', 'PROTECTED'], ...rows]),
  ].join('\n');
}

export function pullListText(entries: PullListEntry[]): string {
  return table([
    ['ORDER', 'BARCODE', 'WHERE', 'BYTES', 'EST. TIME', 'FOR'],
    ...entries.map((entry) => [
      String(entry.order),
      entry.barcode,
      entry.online ? entry.location : `${entry.location} (insert it when asked)`,
      formatBytes(entry.bytes),
      `${entry.estimatedSeconds} s`,
      entry.vms.join(', '),
    ]),
  ]);
}

function promptText(prompt: Prompt): string {
  return `${prompt.message}.\n  Put it in ${prompt.place} (\`lifeboat tape import ${prompt.barcode ?? '<barcode>'}\`), then answer: \`lifeboat prompt answer ${prompt.id}\``;
}

export async function tapeCommand(api: LifeboatApi, rest: string[], values: TapeFlags, out: Output): Promise<number> {
  const [verb, ...args] = rest;
  switch (verb) {
    case 'library': {
      if (args[0] !== 'create') return await libraryCommand(api, args, values, out);
      const request: RequestOf<'tape.library.create'> = {
        slots: positiveInt(values.slots, 24, '--slots'),
        drives: positiveInt(values.drives, 2, '--drives'),
        mailslots: positiveInt(values.mailslots, 4, '--mailslots'),
        tapes: positiveInt(values.tapes, Math.min(8, positiveInt(values.slots, 24, '--slots')), '--tapes'),
        capacityBytes: positiveInt(values['capacity-mib'], 1024 * 1024, '--capacity-mib') * 1024 * 1024,
        timeScale: positiveNumber(values['time-scale'], 1, '--time-scale'),
        rateScale: positiveNumber(values['rate-scale'], 1, '--rate-scale'),
        ...(values['buffer-mib'] ? { bufferBytes: positiveInt(values['buffer-mib'], 1024, '--buffer-mib') * 1024 * 1024 } : {}),
      };
      const inventory = await api.invoke('tape.library.create', request);
      out.print(inventoryText(inventory), inventory);
      return 0;
    }
    case 'inventory': {
      const inventory = await api.invoke('tape.inventory', {});
      out.print(inventoryText(inventory), inventory);
      return 0;
    }
    case 'import':
    case 'eject': {
      if (!args[0]) throw new UsageError(`tape ${verb} takes a barcode`);
      const inventory =
        verb === 'import'
          ? await api.invoke('tape.import', { barcode: args[0], ...(values.image ? { image: values.image } : {}) })
          : await api.invoke('tape.eject', { barcode: args[0] });
      const tape = inventory.cartridges.find((cartridge) => cartridge.barcode === args[0]);
      out.print(`tape ${args[0]} is ${tape ? where(tape.location) : 'gone'}`, inventory);
      return 0;
    }
    case 'backup': {
      if (args.length === 0 || !values.pool) throw new UsageError('tape backup takes: <vm>... --pool P [--point P]');
      const { job } = await api.invoke('tape.backup', { vms: args, pool: values.pool, point: values.point ?? 'latest' });
      return await runJobCommand(api, job, values.detach, out);
    }
    case 'catalog': {
      if (!args[0]) throw new UsageError('tape catalog takes a barcode');
      const { job } = await api.invoke('tape.catalog', { barcode: args[0] });
      return await runWithPrompts(api, [job], values.detach, out);
    }
    case 'copies': {
      const copies = await api.invoke('tape.copies', {});
      out.print(
        table([
          ['VM', 'POINT', 'CREATED', 'POOL', 'TAPES', 'STORED', 'CATALOG'],
          ...copies.map((copy) => [
            copy.vmName,
            String(copy.pointSequence),
            copy.pointCreatedAt,
            copy.pool,
            copy.barcodes.join(',') || '(not catalogued)',
            formatBytes(copy.storedBytes),
            formatBytes(copy.metadataBytes),
          ]),
        ]),
        copies,
      );
      return 0;
    }
    default:
      throw new UsageError(
        'tape takes: library create|add|list|use|remove | inventory | import <barcode> | eject <barcode> | backup <vm>... --pool P | catalog <barcode> | copies',
      );
  }
}

const libraryUsage =
  'tape library takes: create --slots N --drives N --mailslots N [--tapes N] [--capacity-mib N]' +
  ' | add iscsi://HOST[:PORT]/IQN|sg:/dev/sgN[,/dev/sgM…] [--name N] [--lun L] [--block-size B] [--chap-user U --chap-secret-env VAR]' +
  ' | list | use <name|virtual> | remove <name>';

/** `tape library add | list | use | remove`: the real libraries of the home and which one is used. */
async function libraryCommand(api: LifeboatApi, args: string[], values: TapeFlags, out: Output): Promise<number> {
  const [verb, argument] = args;
  if (verb === 'list') {
    const list = await api.invoke('tape.library.list', {});
    const rows = list.libraries.map((library) => [
      library.inUse ? '*' : '',
      library.name,
      library.kind,
      library.url,
      library.lun === null ? '-' : String(library.lun),
      library.chapUser ?? '-',
    ]);
    if (list.virtualExists) rows.unshift([list.inUse === 'virtual' ? '*' : '', 'virtual', 'virtual', '(in the home)', '-', '-']);
    out.print(
      rows.length === 0
        ? 'no tape library yet: `tape library create` (virtual) or `tape library add <url>`'
        : table([['', 'NAME', 'KIND', 'ADDRESS', 'LUN', 'CHAP USER'], ...rows]),
      list,
    );
    return 0;
  }
  if ((verb === 'use' || verb === 'remove') && argument) {
    if (verb === 'use') {
      const inventory = await api.invoke('tape.library.use', { name: argument });
      out.print(`tape jobs now use ${argument}\n${inventoryText(inventory)}`, inventory);
    } else {
      const removed = await api.invoke('tape.library.remove', { name: argument });
      out.print(`removed tape library ${removed.removed}`, removed);
    }
    return 0;
  }
  if (verb !== 'add' || !argument) throw new UsageError(libraryUsage);
  if (Boolean(values['chap-user']) !== Boolean(values['chap-secret-env']))
    throw new UsageError('CHAP takes both --chap-user U and --chap-secret-env VAR (the secret in that environment variable)');
  let chap: { user: string; secret: string } | undefined;
  if (values['chap-user'] && values['chap-secret-env']) {
    const secret = process.env[values['chap-secret-env']];
    if (!secret) throw new UsageError(`environment variable ${values['chap-secret-env']} is empty; put the CHAP secret there`);
    chap = { user: values['chap-user'], secret };
  }
  const added = await api.invoke('tape.library.add', {
    url: argument,
    ...(values.name ? { name: values.name } : {}),
    ...(values.lun !== undefined ? { lun: nonNegativeInt(values.lun, '--lun') } : {}),
    ...(values['block-size'] ? { blockSize: positiveInt(values['block-size'], 0, '--block-size') } : {}),
    ...(chap ? { chap } : {}),
  });
  out.print(`added tape library ${added.library.name}; tape jobs now use it\n${inventoryText(added.inventory)}`, added);
  return 0;
}

function nonNegativeInt(value: string, name: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number)) throw new UsageError(`${name} takes a whole number`);
  return number;
}

/** Follows jobs to their end; prompts that open meanwhile are shown with how to answer them. */
async function runWithPrompts(api: LifeboatApi, jobs: Job[], detach: boolean, out: Output): Promise<number> {
  if (detach) {
    out.print(jobs.map((job) => `queued job ${job.id}: ${job.summary}`).join('\n'), jobs);
    return 0;
  }
  const ids = new Set(jobs.map((job) => job.id));
  const shown = new Set<string>();
  const show = (prompt: Prompt): void => {
    if (prompt.state !== 'open' || shown.has(prompt.id) || !prompt.jobIds.some((id) => ids.has(id))) return;
    shown.add(prompt.id);
    if (!out.json) process.stderr.write(`operator needed: ${promptText(prompt)}\n`);
  };
  const off = api.on('prompt.updated', show);
  try {
    for (const prompt of await api.invoke('prompts.list', { open: true })) show(prompt);
    for (const job of jobs) if (!out.json) process.stderr.write(`job ${job.id} queued: ${job.summary}\n`);
    const ended = await Promise.all(jobs.map((job) => (finishedJobStates.has(job.state) ? job : follow(api, job, { ...out, json: true }))));
    out.print(ended.map(describeJob).join('\n\n'), ended);
    return ended.every((job) => job.state === 'succeeded') ? 0 : 1;
  } finally {
    off();
  }
}

export async function restoreTapeCommand(
  api: LifeboatApi,
  vms: string[],
  target: RequestOf<'restore.tape'>['target'],
  values: TapeFlags,
  out: Output,
): Promise<number> {
  if (vms.length === 0) throw new UsageError('restore tape takes: <vm>... --point P --target local:<dir> [--staging DIR]');
  const point = values.point ?? 'latest';
  const pullList = await api.invoke('tape.pullList', { vms, point });
  if (!out.json) process.stderr.write(`pull list (tapes in the order they are read):\n${pullListText(pullList)}\n`);
  const { jobs } = await api.invoke('restore.tape', {
    vms,
    point,
    target,
    ...(values.staging ? { staging: values.staging } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
  });
  return await runWithPrompts(api, jobs, values.detach, out);
}

export async function promptsCommand(api: LifeboatApi, command: string, rest: string[], values: TapeFlags, out: Output): Promise<number> {
  if (command === 'prompts') {
    const prompts = await api.invoke('prompts.list', { open: !values.all });
    out.print(
      prompts.length === 0
        ? 'no open prompts'
        : table([
            ['ID', 'STATE', 'SINCE', 'NEEDS', 'WHERE'],
            ...prompts.map((prompt) => [prompt.id, prompt.state, prompt.createdAt, prompt.barcode ?? '-', prompt.place]),
          ]),
      prompts,
    );
    return 0;
  }
  if (rest[0] !== 'answer' || !rest[1]) throw new UsageError('prompt takes: answer <id> [--barcode B]');
  const prompt = await api.invoke('prompts.answer', { promptId: rest[1], ...(values.barcode ? { barcode: values.barcode } : {}) });
  out.print(`prompt ${prompt.id} answered: ${prompt.barcode ?? ''} is in the library`, prompt);
  return 0;
}
