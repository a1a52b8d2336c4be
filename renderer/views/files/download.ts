// Downloads of picked items: only a browser can receive one (the app restores to a folder), so
// the engine hands out a single-use URL and the browser fetches it as a plain download.
import type { LifeboatApi, RequestOf } from '../../../shared/contract.ts';

/** True in a browser tab of `lifeboat serve`; false in the app (its preload bridge is there). */
export const downloadsWork = (): boolean => window.lifeboat === undefined;

/** Asks the engine for the archive and lets the browser save it; resolves with its file name. */
export async function downloadItems(api: LifeboatApi, request: RequestOf<'files.download'>): Promise<string> {
  const { url, name } = await api.invoke('files.download', request);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  return name;
}
