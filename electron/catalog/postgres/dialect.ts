// The catalog's SQL is written once, in SQLite's dialect; this turns it into PostgreSQL's. Pure:
// the live schema facts it needs (a table's primary key, for INSERT OR REPLACE) come as a function.
//
// What differs, and what each becomes:
//   ?                                 $1, $2, … in order
//   INSERT OR IGNORE INTO …           INSERT INTO … ON CONFLICT DO NOTHING
//   INSERT OR REPLACE INTO t (cols) … INSERT INTO t (cols) … ON CONFLICT (key) DO UPDATE SET every other column
//   a = b COLLATE NOCASE              lower(a) = lower(b);  ORDER BY a COLLATE NOCASE: ORDER BY lower(a)
//   group_concat(a, s)                string_agg(a, s); ifnull → COALESCE
//   SUM(a = b)                        SUM((a = b)::integer) (no sum of booleans); a boolean in a row comes back 0 or 1
//   max(a, b) / min(a, b) (scalar)    GREATEST(a, b) / LEAST(a, b)
//   a IS ? / a IS NOT ?               a IS NOT DISTINCT FROM $n / a IS DISTINCT FROM $n
//   ? IS NULL                         CAST($n AS TEXT) IS NULL (else the parameter has no type)
//   LIMIT -1                          LIMIT ALL
//   x MATCH ? (an FTS5 trigram table) x.name ILIKE the phrase's text as a substring
//   rowid                             the table's rowid column (toPostgresSchema gives a table one
//                                     where SQLite would have one)
//   AS camelCase                      AS "camelCase" (SQLite keeps an alias's case)
// DDL (migrations): TEXT → TEXT COLLATE "C" (SQLite's BINARY order), INTEGER → BIGINT, REAL → DOUBLE PRECISION, BLOB → BYTEA; INTEGER PRIMARY KEY →
// an identity; STRICT and WITHOUT ROWID dropped; a column COLLATE NOCASE → CITEXT; an FTS5 trigram
// table → a table with a pg_trgm index; a RAISE(ABORT) trigger → a PL/pgSQL trigger function.

/** Literals and quoted names set aside while the text around them is rewritten. */
type Shielded = { text: string; literals: string[] };

const MARK = '\u0000';

function shield(sql: string): Shielded {
  const literals: string[] = [];
  let text = '';
  for (let i = 0; i < sql.length;) {
    const char = sql[i] as string;
    if (char === "'" || char === '"') {
      let end = i + 1;
      for (;;) {
        const close = sql.indexOf(char, end);
        if (close < 0) throw new Error(`unterminated ${char} in SQL: ${sql}`);
        if (sql[close + 1] === char) end = close + 2;
        else {
          end = close + 1;
          break;
        }
      }
      literals.push(sql.slice(i, end));
      text += `${MARK}${literals.length - 1}${MARK}`;
      i = end;
    } else if (char === '-' && sql[i + 1] === '-') {
      const newline = sql.indexOf('\n', i);
      i = newline < 0 ? sql.length : newline;
    } else {
      text += char;
      i += 1;
    }
  }
  return { text, literals };
}

function unshield({ text, literals }: Shielded): string {
  return text.replace(new RegExp(`${MARK}(\\d+)${MARK}`, 'g'), (_, index: string) => literals[Number(index)] as string);
}

/** The primary key columns of a table, as PostgreSQL has it. */
export type PrimaryKeyOf = (table: string) => readonly string[];

const NAME = String.raw`[A-Za-z_][\w.]*`;

/** One statement or script of queries (not DDL) in PostgreSQL's dialect. */
export function toPostgresQuery(sql: string, primaryKeyOf: PrimaryKeyOf): string {
  const shielded = shield(sql);
  let text = shielded.text;
  text = rewriteInsertOr(text, primaryKeyOf);
  text = text.replace(new RegExp(`(${NAME}|\\?)\\s*(=|<>|!=)\\s*(${NAME}|\\?)\\s+COLLATE\\s+NOCASE`, 'gi'), 'lower($1) $2 lower($3)');
  text = text.replace(new RegExp(`(${NAME})\\s+COLLATE\\s+NOCASE`, 'gi'), 'lower($1)');
  text = text.replace(/\bgroup_concat\s*\(/gi, 'string_agg(');
  // SQLite sums a comparison as 0/1; PostgreSQL has no sum of booleans.
  text = text.replace(/\b(SUM|AVG)\s*\(([^()]*?(?:[=<>]|\bIS\b|\bIN\b|\bLIKE\b)[^()]*)\)/gi, '$1(($2)::integer)');
  text = text.replace(/\bifnull\s*\(/gi, 'COALESCE(');
  text = scalarMinMax(text);
  // SQLite's IS compares NULLs as values; PostgreSQL's IS takes only NULL, TRUE, FALSE.
  text = text.replace(/\bIS\s+NOT\s+\?/gi, 'IS DISTINCT FROM ?');
  text = text.replace(/\bIS\s+\?/gi, 'IS NOT DISTINCT FROM ?');
  // A parameter tested for NULL alone has no type PostgreSQL can infer.
  text = text.replace(/\?(\s+IS\s+(?:NOT\s+)?NULL\b)/gi, 'CAST(? AS TEXT)$1');
  text = text.replace(/\bLIMIT\s+-1\b/gi, 'LIMIT ALL');
  // SQLite keeps an alias's case (`AS bytesDone` is the row's key); PostgreSQL folds an unquoted
  // one to lower case, so a mixed-case alias is quoted. (AS INTEGER in a CAST has no lower case.)
  text = text.replace(/\bAS\s+([A-Za-z_]\w*)\b/g, (whole, alias: string) =>
    /[a-z]/.test(alias) && /[A-Z]/.test(alias) ? `AS "${alias}"` : whole,
  );
  // FTS5: `table MATCH ?` with a phrase "…" ("" for a quote): the trigram index answers ILIKE.
  text = text.replace(new RegExp(`\\b(${NAME})\\s+MATCH\\s+\\?`, 'gi'), (_, table: string) => {
    const alias = aliasOf(text, table);
    return `${alias}.name ILIKE lifeboat_phrase_like(?)`;
  });
  let index = 0;
  text = text.replace(/\?/g, () => `$${++index}`);
  return unshield({ text, literals: shielded.literals });
}

/** SQLite's scalar max(a, b, …) and min(a, b, …) (more than one argument; with one they are the
 * aggregates) are PostgreSQL's GREATEST and LEAST. (A NULL argument: SQLite's answer is NULL,
 * PostgreSQL's the largest of the others.) */
function scalarMinMax(text: string): string {
  const call = /\b(max|min)\s*\(/gi;
  let out = '';
  let from = 0;
  for (let found = call.exec(text); found !== null; found = call.exec(text)) {
    let depth = 1;
    let topLevelComma = false;
    let i = found.index + found[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '(') depth += 1;
      else if (text[i] === ')') depth -= 1;
      else if (text[i] === ',' && depth === 1) topLevelComma = true;
    }
    if (!topLevelComma) continue;
    const name = (found[1] as string).toLowerCase() === 'max' ? 'GREATEST' : 'LEAST';
    out += `${text.slice(from, found.index)}${name}(`;
    from = found.index + found[0].length;
  }
  return out + text.slice(from);
}

/** The alias a table has in a FROM clause (`FROM file_names f`), or the table's own name. */
function aliasOf(text: string, table: string): string {
  const found = new RegExp(`\\b(?:FROM|JOIN)\\s+${table}\\s+(?:AS\\s+)?(?!WHERE\\b|JOIN\\b|ON\\b)([A-Za-z_]\\w*)`, 'i').exec(text);
  return found?.[1] ?? table;
}

function rewriteInsertOr(text: string, primaryKeyOf: PrimaryKeyOf): string {
  const insertOr = /^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?/i.exec(text);
  if (!insertOr) return text;
  const [whole, mode, table, columnList] = insertOr as unknown as [string, string, string, string | undefined];
  const body = text.slice(whole.length).replace(/;\s*$/, '');
  const head = `INSERT INTO ${table}${columnList === undefined ? '' : ` (${columnList})`}`;
  if (mode.toUpperCase() === 'IGNORE') return `${head}${body} ON CONFLICT DO NOTHING`;
  if (columnList === undefined) throw new Error(`INSERT OR REPLACE INTO ${table} needs its column list to be translated`);
  const key = primaryKeyOf(table);
  const others = columnList
    .split(',')
    .map((column) => column.trim())
    .filter((column) => !key.includes(column));
  const update =
    others.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${others.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`;
  return `${head}${body} ON CONFLICT (${key.join(', ')}) ${update}`;
}

/** A migration's DDL in PostgreSQL's dialect. */
export function toPostgresSchema(sql: string): string {
  const shielded = shield(sql);
  let text = withRowids(shielded.text);
  text = text.replace(/\)\s*STRICT\s*,\s*WITHOUT\s+ROWID/gi, ')');
  text = text.replace(/\)\s*(?:STRICT|WITHOUT\s+ROWID)\b/gi, ')');
  text = text.replace(/\bINTEGER\s+PRIMARY\s+KEY\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY');
  text = text.replace(/\bTEXT((?:\s+(?:PRIMARY\s+KEY|NOT\s+NULL|UNIQUE))*)\s+COLLATE\s+NOCASE/gi, 'CITEXT$1');
  // SQLite compares and sorts TEXT by its bytes (BINARY); so does "C", in a database of any locale.
  text = text.replace(/\bTEXT\b(?!\s+COLLATE\b)/g, 'TEXT COLLATE "C"');
  text = text.replace(/\bINTEGER\b/g, 'BIGINT');
  text = text.replace(/\bREAL\b/g, 'DOUBLE PRECISION');
  text = text.replace(/\bBLOB\b/g, 'BYTEA');
  text = text.replace(
    /CREATE\s+VIRTUAL\s+TABLE\s+(\w+)\s+USING\s+fts5\s*\(\s*(\w+)\s*,[^;]*tokenize\s*=\s*\u0000\d+\u0000\s*\)/gi,
    (_, table: string, column: string) =>
      // ICU's root collation: ILIKE folds every letter's case as FTS5's trigrams do (Ä ä), in a
      // database of any locale (C's folds ASCII alone).
      `CREATE TABLE ${table} (rowid BIGINT PRIMARY KEY, ${column} TEXT COLLATE "und-x-icu" NOT NULL); ` +
      `CREATE INDEX ${table}_trigrams ON ${table} USING gin (${column} gin_trgm_ops)`,
  );
  text = text.replace(
    /CREATE\s+TRIGGER\s+(\w+)\s+(BEFORE|AFTER)\s+(INSERT|UPDATE|DELETE)\s+ON\s+(\w+)\s+BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*(\u0000\d+\u0000)\s*\)\s*;\s*END/gi,
    (_, name: string, when: string, event: string, table: string, message: string) =>
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN RAISE EXCEPTION ${message}; END $body$; ` +
      `CREATE TRIGGER ${name} ${when} ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
  );
  return unshield({ text, literals: shielded.literals });
}

/** Gives each table SQLite would give a rowid of its own (neither an INTEGER PRIMARY KEY, whose
 * column is the rowid, nor WITHOUT ROWID) a `rowid` identity, last, so that `ORDER BY rowid` is
 * insertion order as in SQLite and SELECT * and INSERT … VALUES keep their columns' places. */
function withRowids(text: string): string {
  let out = '';
  let from = 0;
  const create = /\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[A-Za-z_]\w*\s*\(/gi;
  for (let found = create.exec(text); found !== null; found = create.exec(text)) {
    let depth = 1;
    let close = found.index + found[0].length;
    for (; close < text.length && depth > 0; close++) {
      if (text[close] === '(') depth += 1;
      else if (text[close] === ')') depth -= 1;
    }
    close -= 1; // the table's closing parenthesis
    const body = text.slice(found.index + found[0].length, close);
    const after = text.slice(close + 1, close + 40);
    const ownsRowid = !/\bINTEGER\s+PRIMARY\s+KEY\b/i.test(body) && !/^\s*(?:STRICT\s*,\s*)?WITHOUT\s+ROWID/i.test(after);
    out += text.slice(from, close) + (ownsRowid ? ', rowid BIGINT GENERATED BY DEFAULT AS IDENTITY' : '');
    from = close;
    create.lastIndex = close;
  }
  return out + text.slice(from);
}
