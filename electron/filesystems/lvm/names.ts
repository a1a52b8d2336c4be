// VG and LV names as LVM accepts them (lib/misc/lvm-string.c, validate_name): letters, digits and
// "+_.-", not "." or "..", not starting with "-", at most 127 characters. A name from metadata that
// breaks this is never used in a path; it is shown escaped in the problem that lists it.
import { printableName } from '../../../shared/format.ts';

const MAX_NAME = 127;

export function isValidLvmName(name: string): boolean {
  return name.length <= MAX_NAME && /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/.test(name) && name !== '.' && name !== '..';
}

/** Text from metadata (a name, a key, a segment type) as it may appear in a message: control and
 * bidirectional characters escaped, cut at 127 characters. */
export function shown(text: string): string {
  return printableName(text.length > MAX_NAME ? `${text.slice(0, MAX_NAME)}…` : text);
}
