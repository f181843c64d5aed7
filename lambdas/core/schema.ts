import type { ColumnSchema } from './contracts';
import type { CatalogColumn } from './ports';

/** A DuckDB type as a tree: what nested columns hold, down to their scalars. */
export type DuckType =
  | { readonly kind: 'scalar'; readonly name: string }
  | { readonly kind: 'struct'; readonly fields: ReadonlyArray<{ readonly name: string; readonly type: DuckType }> }
  | { readonly kind: 'list'; readonly element: DuckType; readonly size?: number }
  | { readonly kind: 'map'; readonly key: DuckType; readonly value: DuckType }
  | { readonly kind: 'union'; readonly text: string };

/** Parses a type as DuckDB prints it (`STRUCT(a BIGINT, "b c" VARCHAR[])`, `MAP(VARCHAR, JSON)`, `DECIMAL(18,3)`). */
export function parseDuckType(text: string): DuckType {
  let i = 0;
  const ws = () => {
    while (text[i] === ' ') i++;
  };
  const fail = (): never => {
    throw new Error(`cannot read the type ${JSON.stringify(text)} at ${i}`);
  };
  const name = (): string => {
    ws();
    if (text[i] === '"') {
      let out = '';
      for (i++; i < text.length; i++) {
        if (text[i] === '"' && text[i + 1] === '"') {
          out += '"';
          i++;
        } else if (text[i] === '"') {
          i++;
          return out;
        } else out += text[i];
      }
      return fail();
    }
    const from = i;
    while (i < text.length && text[i] !== ' ') i++;
    return text.slice(from, i);
  };
  const type = (): DuckType => {
    ws();
    let t: DuckType;
    if (text.startsWith('STRUCT(', i)) {
      i += 7;
      const fields: Array<{ name: string; type: DuckType }> = [];
      for (;;) {
        const n = name();
        fields.push({ name: n, type: type() });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ')') break;
        else fail();
      }
      i++;
      t = { kind: 'struct', fields };
    } else if (text.startsWith('MAP(', i)) {
      i += 4;
      const key = type();
      ws();
      if (text[i] !== ',') fail();
      i++;
      const value = type();
      ws();
      if (text[i] !== ')') fail();
      i++;
      t = { kind: 'map', key, value };
    } else {
      // A scalar runs to the next `,` `)` `[` outside parentheses and quotes (`DECIMAL(18,3)`, `ENUM('a', 'b')`).
      const from = i;
      let depth = 0;
      let quoted = false;
      for (; i < text.length; i++) {
        const ch = text[i];
        if (quoted) {
          if (ch === "'") quoted = false;
        } else if (ch === "'") quoted = true;
        else if (ch === '(') depth++;
        else if (ch === ')') {
          if (depth === 0) break;
          depth--;
        } else if (depth === 0 && (ch === ',' || ch === '[')) break;
      }
      const scalar = text.slice(from, i).trim();
      t = /^UNION\(/.test(scalar) ? { kind: 'union', text: scalar } : { kind: 'scalar', name: scalar };
    }
    while (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) fail();
      const n = text.slice(i + 1, close);
      t = n ? { kind: 'list', element: t, size: Number(n) } : { kind: 'list', element: t };
      i = close + 1;
    }
    return t;
  };
  const out = type();
  ws();
  if (i !== text.length) fail();
  return out;
}

const quoteName = (n: string) => `"${n.replace(/"/g, '""')}"`;

/** The type as DuckDB reads it back (every struct field name quoted). */
export function formatDuckType(t: DuckType): string {
  switch (t.kind) {
    case 'scalar':
      return t.name;
    case 'union':
      return t.text;
    case 'struct':
      return `STRUCT(${t.fields.map((f) => `${quoteName(f.name)} ${formatDuckType(f.type)}`).join(', ')})`;
    case 'list':
      return `${formatDuckType(t.element)}[${t.size ?? ''}]`;
    case 'map':
      return `MAP(${formatDuckType(t.key)}, ${formatDuckType(t.value)})`;
  }
}

/** The same tree with every scalar replaced by `f(scalar, nested)` (`nested`: inside a struct, list or map). */
export function mapScalars(t: DuckType, f: (name: string, nested: boolean) => string, nested = false): DuckType {
  switch (t.kind) {
    case 'scalar':
      return { kind: 'scalar', name: f(t.name, nested) };
    case 'union':
      return t;
    case 'struct':
      return { kind: 'struct', fields: t.fields.map((x) => ({ name: x.name, type: mapScalars(x.type, f, true) })) };
    case 'list':
      return { ...t, element: mapScalars(t.element, f, true) };
    case 'map':
      return { kind: 'map', key: mapScalars(t.key, f, true), value: mapScalars(t.value, f, true) };
  }
}

const HIVE_SCALARS: Readonly<Record<string, string>> = {
  VARCHAR: 'string',
  JSON: 'string',
  BIGINT: 'bigint',
  INTEGER: 'int',
  SMALLINT: 'smallint',
  TINYINT: 'tinyint',
  DOUBLE: 'double',
  FLOAT: 'float',
  BOOLEAN: 'boolean',
  DATE: 'date',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
  TIMESTAMP: 'timestamp',
  BLOB: 'binary',
};

/** A struct field name a Hive type string can hold as it is. */
const HIVE_FIELD = /^[^\s:,<>`"]+$/;

function hiveOf(t: DuckType): string | undefined {
  switch (t.kind) {
    case 'scalar': {
      const u = t.name.toUpperCase();
      if (HIVE_SCALARS[u]) return HIVE_SCALARS[u];
      const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(u);
      return dec ? `decimal(${dec[1]},${dec[2]})` : undefined;
    }
    case 'union':
      return undefined;
    case 'struct': {
      const fields = t.fields.map((f) => (HIVE_FIELD.test(f.name) ? hiveOf(f.type) && `${f.name}:${hiveOf(f.type)}` : undefined));
      return fields.every(Boolean) && fields.length ? `struct<${fields.join(',')}>` : undefined;
    }
    case 'list': {
      const e = hiveOf(t.element);
      return e && `array<${e}>`;
    }
    case 'map': {
      const k = hiveOf(t.key);
      const v = hiveOf(t.value);
      return k && v && `map<${k},${v}>`;
    }
  }
}

/** Hive type of a written Parquet column (DuckDB type name), nested types included; undefined when it has none. */
export function hiveType(duckdbType: string): string | undefined {
  try {
    return hiveOf(parseDuckType(duckdbType));
  } catch {
    return undefined;
  }
}

export interface SchemaDrift {
  /** New columns, in order of first appearance, to append to the table. */
  readonly append: CatalogColumn[];
  /** Columns the catalog cannot hold as written (nested types, or a type that differs from the table's). */
  readonly conflicts: string[];
}

/** Compares written files' columns with the table's; new columns are appended, never reordered. */
export function schemaDrift(table: readonly CatalogColumn[], written: ReadonlyArray<readonly ColumnSchema[]>, partitionKeys: readonly string[]): SchemaDrift {
  const known = new Map(table.map((c) => [c.name.toLowerCase(), c.type.toLowerCase()]));
  const append: CatalogColumn[] = [];
  const conflicts = new Set<string>();
  for (const schema of written) {
    for (const col of schema) {
      const name = col.name.toLowerCase();
      if (partitionKeys.includes(name)) continue;
      const type = hiveType(col.type);
      if (!type) {
        conflicts.add(`${col.name}: ${col.type} has no Hive type here`);
        continue;
      }
      const existing = known.get(name);
      if (existing === undefined) {
        known.set(name, type);
        append.push({ name: col.name, type });
      } else if (existing !== type) {
        conflicts.add(`${col.name}: written as ${type}, the table says ${existing}`);
      }
    }
  }
  return { append, conflicts: [...conflicts] };
}

/** Declared decimals are read from their text, never through a double. */
export const isDecimalType = (duckdbType: string) => /^DECIMAL\b/i.test(duckdbType.trim());

/** DuckDB type for a declared Hive column type; undefined for types left to inference. */
export function duckdbType(hive: string): string | undefined {
  const t = hive.trim().toLowerCase();
  const simple: Record<string, string> = {
    string: 'VARCHAR',
    bigint: 'BIGINT',
    int: 'INTEGER',
    smallint: 'SMALLINT',
    tinyint: 'TINYINT',
    double: 'DOUBLE',
    float: 'FLOAT',
    boolean: 'BOOLEAN',
    date: 'DATE',
    timestamp: 'TIMESTAMPTZ',
  };
  if (simple[t]) return simple[t];
  const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  return dec ? `DECIMAL(${dec[1]},${dec[2]})` : undefined;
}
