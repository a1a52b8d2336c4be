// Where each VM's latest point can be read from right now, for the inventory's "only copy offline"
// mark (VmSummary.copies, onlyOffline; the rules are written on VmSummary in shared/domain.ts).
// Only the latest point is checked, and only what a restore would touch first: one manifest per
// repository, the tape catalog and one inventory of the library, so listing VMs stays cheap.
import type { CatalogVm, RepositorySite, VmSummary } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { Repository } from '../repository/repository.ts';
import { wantedByTape } from '../tape/tape-pass.ts';

export type VmPlacesDeps = {
  catalog: Catalog;
  primary: Repository;
  openCopy(site: RepositorySite): Promise<Repository>;
  /** Barcodes in a slot or drive of the library in use (empty when no library answers). */
  loadableTapes(): Promise<ReadonlySet<string>>;
};

type Place = { online: boolean; words: string };
type PointRef = { vmId: string; id: string; sequence: number };

/** What a listing learns once and every VM of it shares. */
type Listing = { tapes: Promise<ReadonlySet<string>> | null; copies: Map<string, Promise<Repository | null>> };

export class VmPlaces {
  private readonly deps: VmPlacesDeps;
  /** Tape sequences a copy reads, by copy id and size of its locations (they only grow as tapes are cataloged). */
  private readonly tapeSequences = new Map<string, number[]>();

  constructor(deps: VmPlacesDeps) {
    this.deps = deps;
  }

  async summaries(): Promise<VmSummary[]> {
    const listing: Listing = { tapes: null, copies: new Map() };
    return Promise.all(this.deps.catalog.listVms().map((vm) => this.summary(vm, listing)));
  }

  private async summary(vm: CatalogVm, listing: Listing): Promise<VmSummary> {
    const latest = vm.latestPointId === null ? undefined : this.deps.catalog.listPoints(vm.id)[0];
    const places = latest ? await this.places({ vmId: vm.id, id: latest.id, sequence: latest.sequence }, listing) : [];
    const online = places.filter((place) => place.online).length;
    const offline = places.filter((place) => !place.online);
    return {
      ...vm,
      copies: { online, offline: offline.length },
      onlyOffline: online === 0 && offline.length > 0,
      offlinePlaces: offline.map((place) => place.words),
    };
  }

  private async places(point: PointRef, listing: Listing): Promise<Place[]> {
    const places: Place[] = [];
    // A primary that lost the point is no place at all: its health says it is damaged.
    if (await holds(this.deps.primary, point)) places.push({ online: true, words: 'the primary repository' });
    for (const row of this.deps.catalog.copies.copyRows(point.id)) {
      const site = this.deps.catalog.copies.site(row.repositoryId);
      if (!site) continue;
      const repository = await this.copyRepository(site, listing);
      places.push({ online: repository !== null && (await holds(repository, point)), words: `copy repository ${site.name}` });
    }
    const tapeCopies = this.deps.catalog.tapes.copiesOf(point.vmId).filter((copy) => copy.manifest.id === point.id);
    if (tapeCopies.length > 0) {
      listing.tapes ??= this.deps.loadableTapes();
      const loadable = await listing.tapes;
      for (const copy of tapeCopies) places.push(this.tapePlace(copy, loadable));
    }
    return places;
  }

  private copyRepository(site: RepositorySite, listing: Listing): Promise<Repository | null> {
    let opened = listing.copies.get(site.id);
    if (!opened) {
      opened = this.deps.openCopy(site).catch(() => null);
      listing.copies.set(site.id, opened);
    }
    return opened;
  }

  private tapePlace(copy: TapeCopy, loadable: ReadonlySet<string>): Place {
    const volumes = this.deps.catalog.tapes.volumes(copy.mediaSetId);
    const sequences = this.sequencesOf(copy);
    // A copy with no block on tape still needs its set's tapes to be read back.
    const needed = (sequences.length > 0 ? sequences : volumes.map((volume) => volume.sequence)).map(
      (sequence) =>
        volumes.find((volume) => volume.sequence === sequence)?.barcode ?? `tape ${sequence} of media set ${copy.mediaSetId.slice(0, 8)}`,
    );
    const missing = needed.filter((barcode) => !loadable.has(barcode));
    const named = missing.length > 0 ? missing : needed;
    return { online: missing.length === 0, words: `${named.length === 1 ? 'tape' : 'tapes'} ${named.join(', ')}` };
  }

  private sequencesOf(copy: TapeCopy): number[] {
    const key = `${copy.id}:${copy.locations.length}`;
    let sequences = this.tapeSequences.get(key);
    if (!sequences) {
      sequences = [...wantedByTape([copy]).keys()].sort((a, b) => a - b);
      this.tapeSequences.set(key, sequences);
    }
    return sequences;
  }
}

/** The point's manifest reads in the repository, as a restore's first step reads it. */
async function holds(repository: Repository, point: PointRef): Promise<boolean> {
  try {
    return (await repository.readPoint(point.vmId, point)).damage === null;
  } catch {
    return false;
  }
}
