/**
 * Athena partition projection computes each partition's location from table parameters and
 * ignores the catalog's partitions, so a projected table cannot follow the swap. The construct
 * checks the parameters it is given, the Glue adapter the table itself.
 */

/** Whether Glue table parameters turn partition projection on (`projection.enabled` = `true`). */
export function partitionProjectionEnabled(parameters: Readonly<Record<string, string>>): boolean {
  const value = Object.entries(parameters).find(([k]) => k.toLowerCase() === 'projection.enabled')?.[1];
  return value?.trim().toLowerCase() === 'true';
}

/** Why `table` cannot be compacted, and what to do. */
export const partitionProjectionProblem = (table: string) =>
  `${table} has partition projection enabled (projection.enabled=true): Athena then computes each partition's location from ` +
  'the projection and ignores the catalog partitions this pipeline points at verified v= versions, so a query reads every ' +
  'version folder below a partition, superseded ones too (rows twice during the grace period). Set projection.enabled to ' +
  'false on that table (or remove its projection.* parameters), or let the construct create the table';
