import {
  BatchCreatePartitionCommand,
  BatchGetPartitionCommand,
  BatchUpdatePartitionCommand,
  GetTableCommand,
  UpdateTableCommand,
  type GlueClient,
  type PartitionError,
  type StorageDescriptor,
} from '@aws-sdk/client-glue';
import { CatalogError, ConfigurationError, RetryableError } from '../core/errors';
import type { Catalog, CatalogColumn, CatalogPartition } from '../core/ports';
import { partitionProjectionEnabled, partitionProjectionProblem } from '../core/projection';

/** Glue API limits. */
export const GLUE_GET_BATCH = 1000;
export const GLUE_WRITE_BATCH = 100;
const RETRYABLE_CODES = new Set(['ThrottlingException', 'InternalServiceException', 'OperationTimeoutException', 'ConcurrentModificationException']);

export interface GlueCatalogOptions {
  readonly attempts?: number;
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/** The production catalog: partitions of one Glue table. */
export class GlueCatalog implements Catalog {
  private descriptor?: StorageDescriptor;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly glue: GlueClient,
    private readonly database: string,
    private readonly table: string,
    o: GlueCatalogOptions = {},
  ) {
    this.attempts = o.attempts ?? 6;
    this.baseDelayMs = o.baseDelayMs ?? 200;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private async backoff(attempt: number): Promise<void> {
    await this.sleep(Math.random() * this.baseDelayMs * 2 ** attempt);
  }

  async getPartitions(values: ReadonlyArray<readonly string[]>): Promise<Array<CatalogPartition | undefined>> {
    const found = new Map<string, CatalogPartition>();
    for (const batch of chunks(values, GLUE_GET_BATCH)) {
      let pending = batch.map((v) => ({ Values: [...v] }));
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt >= this.attempts) throw new RetryableError(`Glue kept ${pending.length} partition read(s) of ${this.database}.${this.table} unprocessed`);
        if (attempt) await this.backoff(attempt);
        const out = await this.glue.send(new BatchGetPartitionCommand({ DatabaseName: this.database, TableName: this.table, PartitionsToGet: pending }));
        for (const p of out.Partitions ?? []) {
          found.set(JSON.stringify(p.Values), { values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
        }
        pending = (out.UnprocessedKeys ?? []).map((k) => ({ Values: k.Values ?? [] }));
      }
    }
    return values.map((v) => found.get(JSON.stringify(v)));
  }

  private async tableDescriptor(): Promise<StorageDescriptor> {
    if (!this.descriptor) {
      const out = await this.glue.send(new GetTableCommand({ DatabaseName: this.database, Name: this.table }));
      this.descriptor = out.Table?.StorageDescriptor ?? {};
    }
    return this.descriptor;
  }

  /** Runs a batch write, retrying only the entries Glue reports as throttled or transient. */
  private async writeBatch(
    items: readonly CatalogPartition[],
    send: (items: readonly CatalogPartition[]) => Promise<PartitionError[]>,
    what: string,
  ): Promise<void> {
    let pending = [...items];
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt) await this.backoff(attempt);
      const errors = await send(pending);
      const failed = new Map(errors.map((e) => [JSON.stringify(e.PartitionValues ?? []), e]));
      const retry = pending.filter((p) => RETRYABLE_CODES.has(failed.get(JSON.stringify(p.values))?.ErrorDetail?.ErrorCode ?? ''));
      const fatal = pending.filter((p) => failed.has(JSON.stringify(p.values)) && !retry.includes(p));
      if (fatal.length) {
        const named = fatal.slice(0, 5).map((p) => {
          const d = failed.get(JSON.stringify(p.values))?.ErrorDetail;
          return `${p.values.join('/')}: ${d?.ErrorCode} ${d?.ErrorMessage ?? ''}`.trim();
        });
        throw new CatalogError(`Glue refused to ${what} ${fatal.length} partition(s) of ${this.database}.${this.table}: ${named.join('; ')}`);
      }
      if (retry.length && attempt + 1 >= this.attempts) {
        throw new RetryableError(`Glue kept throttling ${what} of ${retry.length} partition(s) of ${this.database}.${this.table} after ${this.attempts} attempts`);
      }
      pending = retry;
    }
  }

  async putPartitions(partitions: readonly CatalogPartition[]): Promise<{ created: number; updated: number }> {
    const current = await this.getPartitions(partitions.map((p) => p.values));
    const toCreate = partitions.filter((_, i) => !current[i]);
    const toUpdate = partitions.filter((_, i) => current[i]);
    const updatedBefore = toUpdate.length;
    const sd = await this.tableDescriptor();
    const input = (p: CatalogPartition) => ({ Values: [...p.values], StorageDescriptor: { ...sd, Location: p.location } });

    for (const batch of chunks(toCreate, GLUE_WRITE_BATCH)) {
      await this.writeBatch(batch, async (items) => {
        const out = await this.glue.send(
          new BatchCreatePartitionCommand({ DatabaseName: this.database, TableName: this.table, PartitionInputList: items.map(input) }),
        );
        // A partition created meanwhile (a crawler, a person) is repointed with the updates.
        const raced = new Set((out.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode === 'AlreadyExistsException').map((e) => JSON.stringify(e.PartitionValues)));
        toUpdate.push(...items.filter((p) => raced.has(JSON.stringify(p.values))));
        return (out.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
      }, 'create');
    }
    for (const batch of chunks(toUpdate, GLUE_WRITE_BATCH)) {
      await this.writeBatch(batch, async (items) => {
        const out = await this.glue.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: this.database,
            TableName: this.table,
            Entries: items.map((p) => ({ PartitionValueList: [...p.values], PartitionInput: input(p) })),
          }),
        );
        return (out.Errors ?? []).map((e) => ({ PartitionValues: e.PartitionValueList, ErrorDetail: e.ErrorDetail }));
      }, 'update');
    }
    return { created: toCreate.length - (toUpdate.length - updatedBefore), updated: toUpdate.length };
  }

  async getColumns(): Promise<CatalogColumn[]> {
    const out = await this.glue.send(new GetTableCommand({ DatabaseName: this.database, Name: this.table }));
    // Partition projection makes Athena ignore the partition locations this pipeline commits.
    if (partitionProjectionEnabled(out.Table?.Parameters ?? {})) throw new ConfigurationError(partitionProjectionProblem(`Glue table ${this.database}.${this.table}`));
    return (out.Table?.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name ?? '', type: c.Type ?? '' }));
  }

  async appendColumns(columns: readonly CatalogColumn[]): Promise<void> {
    if (!columns.length) return;
    const { Table: t } = await this.glue.send(new GetTableCommand({ DatabaseName: this.database, Name: this.table }));
    if (!t) throw new CatalogError(`Glue table ${this.database}.${this.table} not found`);
    const sd = { ...t.StorageDescriptor, Columns: [...(t.StorageDescriptor?.Columns ?? []), ...columns.map((c) => ({ Name: c.name, Type: c.type }))] };
    // UpdateTable takes a TableInput: only its writable fields, never the read-only ones GetTable returns.
    await this.glue.send(
      new UpdateTableCommand({
        DatabaseName: this.database,
        TableInput: {
          Name: t.Name,
          Description: t.Description,
          Owner: t.Owner,
          Retention: t.Retention,
          StorageDescriptor: sd,
          PartitionKeys: t.PartitionKeys,
          TableType: t.TableType,
          Parameters: t.Parameters,
        },
      }),
    );
    this.descriptor = sd;
  }
}
