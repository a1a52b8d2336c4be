// Just enough XML for the vSphere SOAP calls we make: a builder that escapes everything, and a
// parser configured so managed object references keep their type attribute.
import { XMLParser } from 'fast-xml-parser';

export type XmlNode = string | { [key: string]: XmlNode | XmlNode[] | undefined };

export function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char] as string);
}

/** <name attrs>children</name>; strings are escaped, arrays are concatenated, null/undefined omitted. */
export function el(
  name: string,
  children?: string | number | boolean | (string | null | undefined)[] | null,
  attributes: Record<string, string> = {},
): string {
  const attrs = Object.entries(attributes)
    .map(([key, value]) => ` ${key}="${escapeXml(value)}"`)
    .join('');
  if (children === undefined || children === null) return `<${name}${attrs}/>`;
  const inner = Array.isArray(children)
    ? children.filter((child): child is string => typeof child === 'string').join('')
    : typeof children === 'string'
      ? escapeXml(children)
      : String(children);
  return `<${name}${attrs}>${inner}</${name}>`;
}

/** Raw XML children (already built with el), as opposed to text to escape. */
export function xml(...parts: (string | null | undefined | false)[]): string[] {
  return parts.filter((part): part is string => typeof part === 'string');
}

export type MoRef = { type: string; value: string };

export function moRefXml(name: string, ref: MoRef): string {
  return el(name, ref.value, { type: ref.type });
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  textNodeName: '#text',
  trimValues: true,
  // Decodes numeric character references too (&#34;, &#xA;): hosts write quotes and newlines
  // in names that way (vcsim does), and they must reach us as the characters they stand for.
  htmlEntities: true,
});

export function parseXml(text: string): Record<string, unknown> {
  return parser.parse(text) as Record<string, unknown>;
}

export function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

/** The text of a node that may carry attributes (xsi:type) or be a bare string. */
export function textOf(node: unknown): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (node && typeof node === 'object' && '#text' in node) return String((node as { '#text': unknown })['#text']);
  return '';
}

export function moRefOf(node: unknown): MoRef {
  const record = node as { '#text'?: unknown; '@_type'?: unknown };
  return { type: String(record?.['@_type'] ?? ''), value: textOf(node) };
}
