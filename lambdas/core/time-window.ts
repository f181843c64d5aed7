import type { PartitionValues } from './partitions';
import { DAY_MS } from './units';

const pad2 = (s: string) => s.padStart(2, '0');

/**
 * End of a partition's time window, from `dt` (YYYY-MM-DD) or `year`/`month`/`day`, narrowed by
 * `hour`; undefined when the partition has no time keys.
 */
export function partitionWindowEnd(values: PartitionValues): Date | undefined {
  let day: string | undefined;
  if (values.dt && /^\d{4}-\d{2}-\d{2}$/.test(values.dt)) day = values.dt;
  else if (values.year && values.month && values.day) day = `${values.year}-${pad2(values.month)}-${pad2(values.day)}`;
  if (!day) return undefined;
  const hour = values.hour !== undefined && /^\d{1,2}$/.test(values.hour) ? Number(values.hour) : undefined;
  const start = Date.parse(`${day}T${hour === undefined ? '00' : pad2(String(hour))}:00:00Z`);
  if (Number.isNaN(start)) return undefined;
  return new Date(start + (hour === undefined ? DAY_MS : 3_600_000));
}
