// The manifest of a restore point: written last, so a point without one never existed.
import { z } from 'zod';
import { PointEncryption } from './chain-key.ts';

export const POINT_FORMAT = 'lifeboat-point';
export const POINT_FORMAT_VERSION = 1;

/** One file of the snapshot chain a disk was read through, leaf first (see vmdk-chain.ts). */
export const SourceChainLink = z.object({
  fileName: z.string().min(1),
  format: z.string(),
  createType: z.string().nullable(),
  cid: z.string().nullable(),
  parentCid: z.string().nullable(),
  capacity: z.number().int().nonnegative(),
});
export type SourceChainLink = z.infer<typeof SourceChainLink>;

export const ManifestDisk = z.object({
  key: z.string().min(1),
  fileName: z.string().min(1),
  capacity: z.number().int().nonnegative(),
  mapFile: z.string().regex(/^disk-\d+\.map$/),
  mapSha256: z.string().regex(/^[0-9a-f]{64}$/),
  mapEntries: z.number().int().nonnegative(),
  sourceFormat: z.string(),
  /** The files read for this disk, leaf first; points written before chains were read lack it. */
  sourceChain: z.array(SourceChainLink).optional(),
  /** The disk's fast-hash sidecar (fast-hash-map.ts) and its SHA-256; points made before it lack it. */
  fastHashes: z.object({ file: z.string().regex(/^disk-\d+\.fh$/), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  /** The disk's Changed Block Tracking change id at the snapshot the point was read from (a
   * backup from vSphere with CBT on); the next backup asks the host what changed since it.
   * Printable ASCII ("52 de c0 d9 98 32 ed 02-ef 1a ff 44 a6 fd 21 37/25"); absent otherwise. */
  changeId: z
    .string()
    .regex(/^[\x20-\x7e]{1,256}$/)
    .optional(),
});
export type ManifestDisk = z.infer<typeof ManifestDisk>;

/** What a point needs of one earlier point of its chain: where that point's blocks are and the
 * hashes of its block maps. A point carries this for every point it depends on, so its own
 * manifest (covered by its own hash) vouches for them: restoring it never reads, and so never
 * trusts, an earlier point's manifest. */
export const ChainLink = z.object({
  sequence: z.number().int().positive(),
  id: z.string().regex(/^[A-Za-z0-9-]+$/),
  dataFileSize: z.number().int().nonnegative(),
  disks: z.array(ManifestDisk.pick({ key: true, capacity: true, mapFile: true, mapSha256: true, mapEntries: true })),
});
export type ChainLink = z.infer<typeof ChainLink>;

export const Manifest = z.object({
  format: z.literal(POINT_FORMAT),
  version: z.literal(POINT_FORMAT_VERSION),
  id: z.string().min(1),
  vmId: z.string().min(1),
  vmName: z.string(),
  sequence: z.number().int().positive(),
  kind: z.enum(['full', 'incremental']),
  parentId: z.string().nullable(),
  createdAt: z.string(),
  blockSize: z.number().int().positive(),
  vmConfig: z.object({ fileName: z.string().min(1), text: z.string() }),
  disks: z.array(ManifestDisk),
  dataFile: z.object({ name: z.literal('data.lbd'), size: z.number().int().nonnegative() }),
  stats: z.object({
    scannedBytes: z.number().nonnegative(),
    changedBytes: z.number().nonnegative(),
    storedBytes: z.number().nonnegative(),
    dedupedBlocks: z.number().int().nonnegative(),
  }),
  /** The earlier points whose blocks this one uses, oldest first (empty for a full point).
   * Absent in points made before it was recorded: those read their parents' manifests. */
  dependsOn: z.array(ChainLink).optional(),
  /** Present when the chain's blocks are sealed (AES-256-GCM) with a chain key. */
  encryption: PointEncryption.optional(),
  /** The audit log's last entry when the point was committed: a copy of its head kept with the
   * backups, so rows cut from the catalog's log are found (Catalog.verifyAudit). */
  auditHead: z.object({ id: z.number().int().positive(), hash: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
});
export type Manifest = z.infer<typeof Manifest>;
