// The janitor's cleaner of a storage-snapshot clone a job presented: unpresented and deleted on
// its array, unless the array has left the catalog since.
import type { ArrayCatalog } from '../catalog/array-catalog.ts';
import { FileArray } from '../drivers/array/file-array.ts';
import { refField, type Janitor } from '../jobs/janitor.ts';

export function registerArrayCloneCleaner(janitor: Janitor, arrays: ArrayCatalog): void {
  janitor.register('array-clone', async (resource) => {
    const array = refField(resource, 'array');
    const known = arrays.find(array);
    if (!known) return `array ${array} is no longer in the catalog`;
    const removed = await FileArray.open(known.name, known.path).removeClonesOf(refField(resource, 'purpose'));
    return removed.length > 0
      ? `unpresented and deleted clone ${removed.join(', ')} on array ${known.name}`
      : `no clone was made on array ${known.name}`;
  });
}
