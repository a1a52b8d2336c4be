// The console's catalog settings: where the home's catalog is and which engines run on it, and a
// move of a SQLite catalog to PostgreSQL, asked for now and made at the engine's next start
// (catalog/catalog-move.ts): the running engine's catalog is never changed under its jobs.
import type { CatalogInfo } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { askCatalogMove, catalogMoveState, withdrawCatalogMove } from '../catalog/catalog-move.ts';
import { describeLocation, isPostgresLocation } from '../catalog-location.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';

/** `location`: the catalog this engine opened (a SQLite file or a PostgreSQL URL). */
export type CatalogHandlersDeps = { home: string; location: string; catalog: Catalog; shared: boolean };

export function catalogHandlers({ home, location, catalog, shared }: CatalogHandlersDeps): ChannelHandlers<'catalog.get' | 'catalog.move'> {
  const info = (): CatalogInfo => {
    const { asked, lastFailure } = catalogMoveState(home);
    const self = catalog.engines.self;
    return {
      backend: isPostgresLocation(location) ? 'postgresql' : 'sqlite',
      location: describeLocation(location),
      shared,
      engines: catalog.engines.running().map((engine) => ({ ...engine, self: engine.id === self })),
      moveAtNextStart: asked,
      lastMoveFailure: lastFailure,
    };
  };
  return {
    'catalog.get': async () => info(),
    'catalog.move': async ({ to }, { actor }) => {
      if (to === null) {
        if (await withdrawCatalogMove(home)) catalog.audit(actor, 'catalog.move.withdrawn', null, {});
        return info();
      }
      await askCatalogMove(home, to, actor);
      catalog.audit(actor, 'catalog.move.asked', null, { to: describeLocation(to) });
      return info();
    },
  };
}
