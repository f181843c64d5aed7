import type { ColumnSchema } from './contracts';
import type { CatalogColumn } from './ports';

/** Hive type of a written Parquet column (DuckDB type name), or undefined when it has none we map. */
export function hiveType(duckdbType: string): string | undefined {
  const t = duckdbType.toUpperCase();
  const simple: Record<string, string> = {
    VARCHAR: 'string',
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
  if (simple[t]) return simple[t];
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  return dec ? `decimal(${dec[1]},${dec[2]})` : undefined;
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
