// iscsi://HOST[:PORT]/TARGET-IQN[/LUN] — the form libiscsi and QEMU use; IPv6 hosts in brackets.
import { LifeboatError } from '../../../errors.ts';

export type IscsiTarget = { host: string; port: number; targetName: string };

export const ISCSI_PORT = 3260;

function refused(url: string, why: string): LifeboatError {
  return new LifeboatError('bad-request', `"${url}" is not an iSCSI address (iscsi://host[:port]/target-iqn[/lun]): ${why}`);
}

export function parseIscsiUrl(url: string): IscsiTarget & { lun?: number } {
  const match = /^iscsi:\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]@]+)(?::(\d{1,5}))?\/([^/]+)(?:\/(\d{1,5}))?\/?$/i.exec(url.trim());
  if (!match) throw refused(url, 'it does not have that form');
  const [, rawHost, rawPort, targetName, rawLun] = match as unknown as [string, string, string | undefined, string, string | undefined];
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const port = rawPort === undefined ? ISCSI_PORT : Number(rawPort);
  if (port < 1 || port > 65535) throw refused(url, `port ${port} is out of range`);
  if (!/^(iqn\.|eui\.|naa\.)/i.test(targetName)) throw refused(url, `"${targetName}" is not an iqn., eui. or naa. name`);
  const lun = rawLun === undefined ? undefined : Number(rawLun);
  if (lun !== undefined && lun > 16383) throw refused(url, `LUN ${lun} is out of range`);
  return lun === undefined ? { host, port, targetName } : { host, port, targetName, lun };
}

export function iscsiAddress(target: IscsiTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `iscsi://${host}:${target.port}/${target.targetName}`;
}
