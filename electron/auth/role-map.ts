// The CLI's --role-map text: "GROUP=ROLE" pairs separated by commas, where GROUP may itself be a
// DN with commas and equals signs ("cn=ops,ou=groups,dc=example,dc=org=operator"). A pair ends at
// "=<role>" followed by a comma or the end, which a DN's attribute value cannot be mistaken for
// because each role name is checked.
import { roles, type RoleMapping } from '../../shared/accounts.ts';
import { LifeboatError } from '../errors.ts';

const pair = new RegExp(`\\s*([^,\\s].*?)\\s*=\\s*(${roles.join('|')})\\s*(?:,|$)`, 'y');

export function parseRoleMap(text: string): RoleMapping[] {
  const mappings: RoleMapping[] = [];
  pair.lastIndex = 0;
  while (pair.lastIndex < text.length) {
    const start = pair.lastIndex;
    const match = pair.exec(text);
    if (!match)
      throw new LifeboatError(
        'bad-request',
        `--role-map: cannot read "${text.slice(start, start + 60)}"; write GROUP=ROLE pairs (roles: ${roles.join(', ')}), separated by commas`,
      );
    mappings.push({ group: match[1] as string, role: match[2] as RoleMapping['role'] });
  }
  if (mappings.length === 0) throw new LifeboatError('bad-request', '--role-map: name at least one GROUP=ROLE pair');
  return mappings;
}

/** Is `group` (a group entry's DN and cn) the one a mapping names? A mapping may give the whole DN,
 * its first RDN ("cn=ops") or the cn alone; case and spaces after commas do not matter. */
export function mappingMatches(mapping: RoleMapping, group: { dn: string; cn: readonly string[] }): boolean {
  const normal = (text: string): string =>
    text
      .toLowerCase()
      .replace(/\s*([,=])\s*/g, '$1')
      .trim();
  const wanted = normal(mapping.group);
  const dn = normal(group.dn);
  return wanted === dn || wanted === dn.split(',')[0] || group.cn.some((cn) => normal(cn) === wanted);
}
