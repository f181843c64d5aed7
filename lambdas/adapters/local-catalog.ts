import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Catalog, CatalogColumn, CatalogPartition } from '../core/ports';

/**
 * The catalog of the embedded default: partitions of one table in a JSON file (or only in
 * memory), written atomically. Same contract as the Glue adapter.
 */
export class LocalCatalog implements Catalog {
  private partitions = new Map<string, CatalogPartition>();
  private columns: CatalogColumn[];
  private loaded = false;

  /** `columns`: the table's columns as created (for a new file). */
  constructor(private readonly file?: string, columns: readonly CatalogColumn[] = []) {
    this.columns = [...columns];
  }

  private static id(values: readonly string[]): string {
    return JSON.stringify(values);
  }

  private async load(): Promise<void> {
    if (this.loaded || !this.file) return;
    try {
      const stored = JSON.parse(await readFile(this.file, 'utf8')) as { columns: CatalogColumn[]; partitions: CatalogPartition[] };
      this.partitions = new Map(stored.partitions.map((p) => [LocalCatalog.id(p.values), p]));
      this.columns = stored.columns;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.loaded = true;
  }

  async getPartitions(values: ReadonlyArray<readonly string[]>): Promise<Array<CatalogPartition | undefined>> {
    await this.load();
    return values.map((v) => this.partitions.get(LocalCatalog.id(v)));
  }

  async putPartitions(partitions: readonly CatalogPartition[]): Promise<{ created: number; updated: number }> {
    await this.load();
    let created = 0;
    for (const p of partitions) {
      if (!this.partitions.has(LocalCatalog.id(p.values))) created++;
      this.partitions.set(LocalCatalog.id(p.values), { values: [...p.values], location: p.location });
    }
    await this.save();
    return { created, updated: partitions.length - created };
  }

  async getColumns(): Promise<CatalogColumn[]> {
    await this.load();
    return [...this.columns];
  }

  async appendColumns(columns: readonly CatalogColumn[]): Promise<void> {
    await this.load();
    this.columns.push(...columns);
    await this.save();
  }

  private async save(): Promise<void> {
    if (!this.file) return;
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(`${this.file}.tmp`, JSON.stringify({ columns: this.columns, partitions: [...this.partitions.values()] }, null, 1));
    await rename(`${this.file}.tmp`, this.file);
  }

  /** Every partition, in key order (for reports and tests). */
  async all(): Promise<CatalogPartition[]> {
    await this.load();
    return [...this.partitions.values()].sort((a, b) => (LocalCatalog.id(a.values) < LocalCatalog.id(b.values) ? -1 : 1));
  }
}
