import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CatalogError } from '../core/errors';
import type { Catalog, CatalogColumn, CatalogPartition } from '../core/ports';

interface Stored {
  columns: CatalogColumn[];
  partitions: CatalogPartition[];
}

const isString = (x: unknown): x is string => typeof x === 'string';

/** What is wrong with a parsed catalog file, if anything. */
function problemOf(stored: unknown): string | undefined {
  const o = stored as Partial<Stored> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) return 'it holds no JSON object';
  if (!Array.isArray(o.columns)) return '"columns" is not a list';
  const badColumn = o.columns.findIndex((c) => !c || !isString(c.name) || !isString(c.type));
  if (badColumn >= 0) return `columns[${badColumn}] has no string "name" and "type"`;
  if (!Array.isArray(o.partitions)) return '"partitions" is not a list';
  const badPartition = o.partitions.findIndex((p) => !p || !Array.isArray(p.values) || !p.values.every(isString) || !isString(p.location));
  if (badPartition >= 0) return `partitions[${badPartition}] has no string "values" list and "location"`;
  return undefined;
}

/**
 * The catalog of the embedded default: partitions of one table in a JSON file (or only in
 * memory). Same contract as the Glue adapter. The file is read anew by every call (an operator
 * may edit it, another process may write it) and checked: a truncated or invalid file fails with
 * a CatalogError naming it. Writes go through a temp file of their own and a rename, so a reader
 * never sees half a file and two writers never share a temp file.
 */
export class LocalCatalog implements Catalog {
  private memory: Stored;

  /** `columns`: the table's columns as created (a missing file starts, or is rebuilt, with them). */
  constructor(private readonly file?: string, private readonly columns: readonly CatalogColumn[] = []) {
    this.memory = { columns: [...columns], partitions: [] };
  }

  private static id(values: readonly string[]): string {
    return JSON.stringify(values);
  }

  private async load(): Promise<Stored> {
    if (!this.file) return this.memory;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { columns: [...this.columns], partitions: [] };
      throw e;
    }
    let stored: unknown;
    try {
      stored = JSON.parse(text);
    } catch (e) {
      throw new CatalogError(`local catalog ${this.file} is not valid JSON (${(e as Error).message}); fix it, or remove it to have it rebuilt from the committed versions`, { cause: e });
    }
    const problem = problemOf(stored);
    if (problem) throw new CatalogError(`local catalog ${this.file} is not a catalog: ${problem}; fix it, or remove it to have it rebuilt from the committed versions`);
    return stored as Stored;
  }

  private async save(stored: Stored): Promise<void> {
    if (!this.file) {
      this.memory = stored;
      return;
    }
    await mkdir(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}-${randomUUID()}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(stored, null, 1));
      await rename(temp, this.file);
    } finally {
      await rm(temp, { force: true });
    }
  }

  async getPartitions(values: ReadonlyArray<readonly string[]>): Promise<Array<CatalogPartition | undefined>> {
    const byId = new Map((await this.load()).partitions.map((p) => [LocalCatalog.id(p.values), p]));
    return values.map((v) => byId.get(LocalCatalog.id(v)));
  }

  async putPartitions(partitions: readonly CatalogPartition[]): Promise<{ created: number; updated: number }> {
    const stored = await this.load();
    const byId = new Map(stored.partitions.map((p) => [LocalCatalog.id(p.values), p]));
    let created = 0;
    for (const p of partitions) {
      if (!byId.has(LocalCatalog.id(p.values))) created++;
      byId.set(LocalCatalog.id(p.values), { values: [...p.values], location: p.location });
    }
    await this.save({ columns: stored.columns, partitions: [...byId.values()] });
    return { created, updated: partitions.length - created };
  }

  async getColumns(): Promise<CatalogColumn[]> {
    return [...(await this.load()).columns];
  }

  async appendColumns(columns: readonly CatalogColumn[]): Promise<void> {
    if (!columns.length) return;
    const stored = await this.load();
    await this.save({ columns: [...stored.columns, ...columns], partitions: stored.partitions });
  }

  /** Every partition, in key order (for reports and tests). */
  async all(): Promise<CatalogPartition[]> {
    return [...(await this.load()).partitions].sort((a, b) => (LocalCatalog.id(a.values) < LocalCatalog.id(b.values) ? -1 : 1));
  }
}
