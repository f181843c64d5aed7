import type { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import type { Catalog, CatalogColumn, CatalogPartition } from '../../lambdas/core/ports';

export interface CatalogCounts {
  getColumns: number;
  appendColumns: number;
  getPartitions: number;
  putPartitions: number;
  /** Partitions asked for by getPartitions, and written by putPartitions (Glue bills per call, throttles per partition). */
  partitionsRead: number;
  partitionsWritten: number;
}

/** Counts the catalog calls made through it (Glue API calls, one per port call before the adapter's batching). */
export class CountingCatalog implements Catalog {
  private readonly counted: CatalogCounts = { getColumns: 0, appendColumns: 0, getPartitions: 0, putPartitions: 0, partitionsRead: 0, partitionsWritten: 0 };

  constructor(readonly inner: LocalCatalog) {}

  snapshot(): CatalogCounts {
    return { ...this.counted };
  }

  /** What was counted after `before`. */
  since(before: CatalogCounts): CatalogCounts {
    const now = this.snapshot();
    return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof CatalogCounts]])) as unknown as CatalogCounts;
  }

  getPartitions(values: ReadonlyArray<readonly string[]>): Promise<Array<CatalogPartition | undefined>> {
    this.counted.getPartitions++;
    this.counted.partitionsRead += values.length;
    return this.inner.getPartitions(values);
  }
  putPartitions(partitions: readonly CatalogPartition[]) {
    this.counted.putPartitions++;
    this.counted.partitionsWritten += partitions.length;
    return this.inner.putPartitions(partitions);
  }
  getColumns(): Promise<CatalogColumn[]> {
    this.counted.getColumns++;
    return this.inner.getColumns();
  }
  appendColumns(columns: readonly CatalogColumn[]): Promise<void> {
    this.counted.appendColumns++;
    return this.inner.appendColumns(columns);
  }
}
