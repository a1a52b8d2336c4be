// A real library from the address an operator gives: iscsi://HOST[:PORT]/IQN (our initiator) or
// sg:/dev/sgN[,/dev/sgM…] (Linux SCSI generic). The transport only carries commands; the changer
// and the drives are found on it by INQUIRY (openScsiLibrary). Whatever fails after the wire is up
// lets go of the wire again, so a refused library leaves no session behind.
import { LifeboatError } from '../../errors.ts';
import { inquiry, PeripheralType } from './inquiry.ts';
import { IscsiSession, parseIscsiUrl } from './iscsi/index.ts';
import { openScsiLibrary, type LibraryHolds, type ScsiTapeLibrary } from './scsi-library.ts';
import type { ScsiBus, ScsiDevice } from './scsi-device.ts';
import { parseSgUrl, SgBus, sgAvailable } from './sg/sg-bus.ts';

export type OpenLibraryOptions = {
  name: string;
  /** The changer's LUN when the target offers several (iSCSI; the URL's /LUN says the same). */
  lun?: number | undefined;
  blockSize?: number | undefined;
  chap?: { user: string; secret: string } | undefined;
  signal?: AbortSignal | undefined;
  /** Holds across the hosts sharing the library (ScsiLibraryOptions.holds). */
  holds?: LibraryHolds | undefined;
};

async function connect(url: string, options: OpenLibraryOptions): Promise<{ bus: ScsiBus; changer?: ScsiDevice }> {
  if (url.startsWith('sg:')) {
    const why = sgAvailable();
    if (why !== null) throw new LifeboatError('unavailable', `SCSI generic devices cannot be used here: ${why}`);
    return { bus: await SgBus.open(parseSgUrl(url)) };
  }
  if (!url.startsWith('iscsi://')) throw new LifeboatError('bad-request', `no transport for library address "${url}"`);
  const target = parseIscsiUrl(url);
  const session = await IscsiSession.connect({
    host: target.host,
    port: target.port,
    targetName: target.targetName,
    ...(options.chap ? { chap: options.chap } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const lun = options.lun ?? target.lun;
  if (lun === undefined) return { bus: session };
  // The LUN the operator named must be the changer, not a drive or the target's controller.
  const changer = session.device(lun);
  const named = await inquiry(changer).catch(async (error: unknown) => {
    await session.close().catch(() => undefined);
    throw error;
  });
  if (named.peripheralType !== PeripheralType.changer) {
    await session.close().catch(() => undefined);
    throw new LifeboatError(
      'bad-request',
      `LUN ${lun} of ${session.address} is a ${named.vendor} ${named.product} (peripheral type ${named.peripheralType}), not a media changer`,
    );
  }
  return { bus: session, changer };
}

export async function openLibraryUrl(url: string, options: OpenLibraryOptions): Promise<ScsiTapeLibrary> {
  const { bus, changer } = await connect(url, options);
  try {
    return await openScsiLibrary(await bus.devices(), {
      name: options.name,
      ...(options.blockSize ? { blockSize: options.blockSize } : {}),
      ...(changer ? { changer } : {}),
      ...(options.holds ? { holds: options.holds } : {}),
      close: () => bus.close(),
    });
  } catch (error) {
    await bus.close().catch(() => undefined);
    throw error;
  }
}
