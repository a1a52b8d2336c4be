// The tape channels: the library (virtual, or real ones configured by address), the tapes in and out of it, the tape jobs, the pull list of
// tapes a restore needs, the operator prompts, and the restore from tape (its local target and
// staging folder checked first).
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { TargetChecks } from '../restore/target-checks.ts';
import type { TapeService } from './tape-service.ts';

type TapeChannel =
  | 'tape.library.create'
  | 'tape.library.add'
  | 'tape.library.list'
  | 'tape.library.use'
  | 'tape.library.remove'
  | 'tape.inventory'
  | 'tape.import'
  | 'tape.eject'
  | 'tape.backup'
  | 'tape.catalog'
  | 'tape.copies'
  | 'tape.pullList'
  | 'restore.tape'
  | 'prompts.list'
  | 'prompts.answer';

export function tapeHandlers(tape: TapeService, catalog: Catalog, checks: TargetChecks): ChannelHandlers<TapeChannel> {
  return {
    'tape.library.create': async (request, { actor }) => {
      const inventory = await tape.createLibrary(request);
      catalog.audit(actor, 'tape.library.create', null, request);
      return inventory;
    },
    'tape.library.add': async (request, { actor }) => tape.addLibrary(request, actor),
    'tape.library.list': async () => tape.listLibraries(),
    'tape.library.use': async ({ name }, { actor }) => tape.useLibrary(name, actor),
    'tape.library.remove': async ({ name }, { actor }) => tape.removeLibrary(name, actor),
    'tape.inventory': async () => tape.inventory(),
    'tape.import': async ({ barcode, image }, { actor }) => tape.importTape(barcode, image, actor),
    'tape.eject': async ({ barcode }, { actor }) => tape.ejectTape(barcode, actor),
    'tape.backup': async ({ vms, pool, point }, { actor }) => ({ job: await tape.startBackup(vms, pool, point, actor) }),
    'tape.catalog': async ({ barcode }, { actor }) => ({ job: await tape.startCatalog(barcode, actor) }),
    'tape.copies': async () => catalog.tapes.summaries(),
    'tape.pullList': async ({ vms, point }) => tape.pullList(vms.map((vm) => tape.copyFor(vm, point))),
    'restore.tape': async (request, { actor }) => {
      const checked = await checks.checkedLocalTarget(request);
      return tape.startRestore(
        checked.staging === undefined
          ? checked
          : { ...checked, staging: await checks.checkLocalPath(checked.staging, 'the staging folder') },
        actor,
      );
    },
    'prompts.list': async ({ open }) => tape.prompts.list(open),
    'prompts.answer': async ({ promptId, barcode }, { actor }) => {
      const prompt = await tape.prompts.answer(promptId, actor, barcode);
      catalog.audit(actor, 'prompts.answer', promptId, { barcode: prompt.barcode });
      return prompt;
    },
  };
}
