// LVM2's metadata text (lib/config/config.c): the configuration syntax a volume group's
// metadata is written in.
//
//   file    := item*
//   item    := name '=' value | name '{' item* '}'
//   value   := string | number | '[' (value (',' value)*)? ']'
//   string  := '"' characters, with \" and \\ escaped '"'
//   comment := '#' up to the end of the line
//
// Names are runs of anything but blanks and the characters {}[]=,"#. Depth, item count and
// size are bounded: the text comes from outside.
import { LifeboatError } from '../../errors.ts';
import { shown } from './names.ts';

export type ConfigValue = string | number | ConfigValue[];
export type ConfigSection = {
  readonly values: Map<string, ConfigValue>;
  readonly sections: Map<string, ConfigSection>;
  readonly order: string[];
};

const MAX_DEPTH = 16;
const MAX_ITEMS = 200_000;
const MAX_ARRAY = 100_000;
/** LVM itself refuses metadata text larger than its area; we bound it to keep a read and a parse small. */
export const MAX_TEXT = 4 * 1024 * 1024;
const SPECIAL = new Set(['{', '}', '[', ']', '=', ',', '"', '#']);

const isBlank = (char: string): boolean =>
  char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '\f' || char === '\v';

function newSection(): ConfigSection {
  return { values: new Map(), sections: new Map(), order: [] };
}

class Parser {
  private at = 0;
  private items = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  private fail(why: string): never {
    const line = this.text.slice(0, this.at).split('\n').length;
    throw new LifeboatError('corrupt-disk', `LVM2 metadata text, line ${line}: ${why}`);
  }

  private skip(): void {
    while (this.at < this.text.length) {
      const char = this.text[this.at] as string;
      if (isBlank(char)) this.at++;
      else if (char === '#') {
        const end = this.text.indexOf('\n', this.at);
        this.at = end < 0 ? this.text.length : end + 1;
      } else return;
    }
  }

  private peek(): string | undefined {
    this.skip();
    return this.text[this.at];
  }

  private name(): string {
    const start = this.at;
    while (this.at < this.text.length) {
      const char = this.text[this.at] as string;
      if (isBlank(char) || SPECIAL.has(char)) break;
      this.at++;
    }
    if (this.at === start) this.fail(`expected a name, found "${shown(this.text[this.at] ?? 'the end')}"`);
    return this.text.slice(start, this.at);
  }

  private string(): string {
    this.at++; // the opening quote
    let out = '';
    while (this.at < this.text.length) {
      const char = this.text[this.at++] as string;
      if (char === '"') return out;
      if (char === '\\') {
        if (this.at >= this.text.length) break;
        out += this.text[this.at++];
      } else out += char;
    }
    return this.fail('a string is not closed');
  }

  private scalar(): string | number {
    if (this.peek() === '"') return this.string();
    const word = this.name();
    if (!/^-?\d+(\.\d+)?$/.test(word)) this.fail(`"${shown(word.slice(0, 40))}" is neither a string nor a number`);
    return Number(word);
  }

  private value(): ConfigValue {
    if (this.peek() !== '[') return this.scalar();
    this.at++;
    const items: ConfigValue[] = [];
    if (this.peek() === ']') {
      this.at++;
      return items;
    }
    for (;;) {
      if (items.length >= MAX_ARRAY) this.fail(`an array holds more than ${MAX_ARRAY} values`);
      items.push(this.scalar());
      const next = this.peek();
      this.at++;
      if (next === ']') return items;
      if (next !== ',') this.fail(`expected , or ] in an array, found "${shown(next ?? 'the end')}"`);
    }
  }

  section(depth: number): ConfigSection {
    if (depth > MAX_DEPTH) this.fail(`sections nest deeper than ${MAX_DEPTH}`);
    const section = newSection();
    for (;;) {
      const next = this.peek();
      if (next === undefined) {
        if (depth > 0) this.fail('a section is not closed');
        return section;
      }
      if (next === '}') {
        if (depth === 0) this.fail('a } closes no section');
        this.at++;
        return section;
      }
      if (++this.items > MAX_ITEMS) this.fail(`more than ${MAX_ITEMS} items`);
      const key = this.name();
      const sign = this.peek();
      this.at++;
      if (sign === '{') {
        section.sections.set(key, this.section(depth + 1));
      } else if (sign === '=') {
        section.values.set(key, this.value());
      } else this.fail(`expected = or { after "${shown(key.slice(0, 40))}"`);
      section.order.push(key);
    }
  }
}

export function parseMetadataText(text: string): ConfigSection {
  if (text.length > MAX_TEXT) throw new LifeboatError('corrupt-disk', `LVM2 metadata text is larger than ${MAX_TEXT} bytes`);
  return new Parser(text).section(0);
}

// Typed reads of a parsed section, each refusing a missing or mistyped value by name.

function missing(where: string, key: string, what: string): never {
  throw new LifeboatError('corrupt-disk', `LVM2 metadata: ${where} has no ${what} ${key}`);
}

export function numberOf(section: ConfigSection, key: string, where: string): number {
  const value = section.values.get(key);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return missing(where, key, 'whole number');
  return value;
}

export function stringOf(section: ConfigSection, key: string, where: string): string {
  const value = section.values.get(key);
  if (typeof value !== 'string') return missing(where, key, 'string');
  return value;
}

export function optionalString(section: ConfigSection, key: string): string | null {
  const value = section.values.get(key);
  return typeof value === 'string' ? value : null;
}

export function flagsOf(section: ConfigSection, key: string): string[] {
  const value = section.values.get(key);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function arrayOf(section: ConfigSection, key: string, where: string): ConfigValue[] {
  const value = section.values.get(key);
  if (!Array.isArray(value)) return missing(where, key, 'array');
  return value;
}
