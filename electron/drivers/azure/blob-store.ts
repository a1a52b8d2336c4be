// Azure Blob Storage as a restore target, over the real Blob API (@azure/storage-blob): a
// storage account reached with its name and key; fixed VHDs uploaded as page blobs, empty ranges
// never sent. An upload goes to <name>.partial (tagged with what it holds), so a rerun resumes it
// from its written page ranges, and only a complete upload is copied to <name>: a half blob is
// never published under the name a template refers to.
import { open } from 'node:fs/promises';
import { BlobServiceClient, RestError, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { isAllZero } from '../../disks/zero.ts';
import { LifeboatError } from '../../errors.ts';

/** Page blobs take writes of up to 4 MiB, 512-byte aligned; empty ranges are found in steps of
 * 64 KiB and never sent. */
const CHUNK = 4 * 1024 * 1024;
const STEP = 64 * 1024;

/** The runs of `data` (offsets within it) that hold anything but zeros. */
function dataRuns(data: Uint8Array): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  for (let start = 0; start < data.length; start += STEP) {
    const end = Math.min(start + STEP, data.length);
    if (isAllZero(data.subarray(start, end))) continue;
    const last = runs.at(-1);
    if (last && last.end === start) last.end = end;
    else runs.push({ start, end });
  }
  return runs;
}

export type AzureEndpoint = { blobUrl: string; accountName: string };
export type UploadOutcome = { sentBytes: number; emptyBytes: number; resumedBytes: number };

function azureError(error: unknown, what: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  if (error instanceof RestError) {
    if (error.statusCode === 403)
      return new LifeboatError('unauthorized', `Azure Storage refused ${what}: wrong account name or key (${error.code ?? 403})`);
    if (error.code === 'ContainerNotFound') return new LifeboatError('not-found', `${what}: the container does not exist; create it first`);
    return new LifeboatError(
      'unavailable',
      `Azure Storage failed ${what}: ${error.code ?? error.statusCode ?? ''} ${error.message.split('\n')[0]}`,
    );
  }
  const code = (error as { code?: string }).code;
  return new LifeboatError('unavailable', `cannot reach Azure Storage for ${what}: ${code ?? (error as Error).message}`);
}

export class BlobStore {
  private readonly service: BlobServiceClient;
  readonly endpoint: AzureEndpoint;

  private constructor(endpoint: AzureEndpoint, service: BlobServiceClient) {
    this.endpoint = endpoint;
    this.service = service;
  }

  /** Connects and proves the name and key with one call. */
  static async connect(endpoint: AzureEndpoint, key: string): Promise<BlobStore> {
    const service = new BlobServiceClient(endpoint.blobUrl, new StorageSharedKeyCredential(endpoint.accountName, key), {
      retryOptions: { maxTries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 1000 },
    });
    try {
      await service.getProperties();
    } catch (error) {
      throw azureError(error, `account ${endpoint.accountName} at ${endpoint.blobUrl}`);
    }
    return new BlobStore(endpoint, service);
  }

  async container(name: string): Promise<ContainerClient> {
    const container = this.service.getContainerClient(name);
    try {
      await container.getProperties();
    } catch (error) {
      throw azureError(error, `container ${name} of account ${this.endpoint.accountName}`);
    }
    return container;
  }

  blobUrl(container: string, name: string): string {
    return this.service.getContainerClient(container).getBlobClient(name).url;
  }

  /** Uploads a fixed VHD as the page blob `name`; `tag` says what it holds, so a partial upload of
   * something else is started over rather than resumed. */
  async uploadVhd(
    containerName: string,
    name: string,
    path: string,
    tag: Record<string, string>,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<UploadOutcome> {
    const container = await this.container(containerName);
    const partial = container.getPageBlobClient(`${name}.partial`);
    const final = container.getPageBlobClient(name);
    const handle = await open(path, 'r');
    const outcome: UploadOutcome = { sentBytes: 0, emptyBytes: 0, resumedBytes: 0 };
    try {
      const { size } = await handle.stat();
      const written = await this.resumable(partial, size, tag);
      const buffer = Buffer.alloc(CHUNK);
      for (let offset = 0; offset < size; offset += CHUNK) {
        if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
        const length = Math.min(CHUNK, size - offset);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        let kept = 0;
        for (const run of dataRuns(buffer.subarray(0, bytesRead))) {
          const start = offset + run.start;
          const end = offset + run.end;
          kept += end - start;
          // Written by an earlier, interrupted upload of the same thing: not sent again.
          if (written.some((range) => range.start <= start && range.end >= end)) outcome.resumedBytes += end - start;
          else {
            await partial.uploadPages(buffer.subarray(run.start, run.end), start, end - start, { abortSignal: signal });
            outcome.sentBytes += end - start;
          }
        }
        outcome.emptyBytes += length - kept;
        onProgress(offset + length, size);
      }
      // Complete: published under its name, then the partial goes.
      await (await final.beginCopyFromURL(partial.url, { metadata: tag })).pollUntilDone();
      await partial.delete();
      return outcome;
    } catch (error) {
      throw azureError(error, `the upload of ${name}`);
    } finally {
      await handle.close();
    }
  }

  /** The ranges already written to a partial upload of the same thing, or a fresh partial blob. */
  private async resumable(
    partial: ReturnType<ContainerClient['getPageBlobClient']>,
    size: number,
    tag: Record<string, string>,
  ): Promise<{ start: number; end: number }[]> {
    const existing = await partial.getProperties().catch((error: unknown) => {
      if (error instanceof RestError && error.statusCode === 404) return null;
      throw error;
    });
    if (existing && existing.contentLength === size && Object.entries(tag).every(([key, value]) => existing.metadata?.[key] === value)) {
      const ranges = (await partial.getPageRanges()).pageRange ?? [];
      return ranges.map((range) => ({ start: range.offset ?? 0, end: (range.offset ?? 0) + (range.count ?? -1) + 1 }));
    }
    await partial.deleteIfExists();
    await partial.create(size, { metadata: tag });
    return [];
  }

  async uploadText(containerName: string, name: string, text: string): Promise<string> {
    const blob = (await this.container(containerName)).getBlockBlobClient(name);
    try {
      await blob.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    } catch (error) {
      throw azureError(error, `the upload of ${name}`);
    }
    return blob.url;
  }
}
