/** Input formats the engine reads, recognised from the object key's ending. */
export type InputFormat = 'jsonl' | 'jsonl.gz' | 'csv' | 'csv.gz' | 'parquet';

const SUFFIXES: ReadonlyArray<readonly [string, InputFormat]> = [
  ['.json.gz', 'jsonl.gz'],
  ['.jsonl.gz', 'jsonl.gz'],
  ['.ndjson.gz', 'jsonl.gz'],
  ['.csv.gz', 'csv.gz'],
  ['.json', 'jsonl'],
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.csv', 'csv'],
  ['.parquet', 'parquet'],
];

/** Formats we recognise but cannot read yet: reported, never silently ignored. */
const UNSUPPORTED_SUFFIXES = ['.avro', '.orc'];

/** The key's last characters, lowercased: enough for every suffix, without copying long keys. */
const tail = (key: string) => key.slice(-12).toLowerCase();

export function formatOf(key: string): InputFormat | undefined {
  const lower = tail(key);
  for (const [suffix, format] of SUFFIXES) if (lower.endsWith(suffix)) return format;
  return undefined;
}

export function isUnsupportedFormat(key: string): boolean {
  const lower = tail(key);
  return UNSUPPORTED_SUFFIXES.some((s) => lower.endsWith(s));
}

/**
 * Parquet output bytes per input byte, before any run has measured them.
 * Conservative (high) so the first bins undershoot the target rather than overshoot.
 */
export const DEFAULT_OUTPUT_RATIOS: Readonly<Record<InputFormat, number>> = {
  jsonl: 0.15,
  'jsonl.gz': 0.9,
  csv: 0.3,
  'csv.gz': 1.0,
  parquet: 1.0,
};

/** A JSON record larger than this is rejected (the engine is told the same limit). */
export const MAX_RECORD_BYTES = 10 * 1024 * 1024;
