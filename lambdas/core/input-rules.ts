/** Rules for inputs the engine cannot take as they are: the reasons recorded when they are set aside. */
import { MAX_RECORD_BYTES } from './formats';

/** Why a file's own column names cannot be columns as they are (empty, repeated, or the same but for case). */
export function namesProblem(names: readonly string[]): string | undefined {
  const seen = new Map<string, string>();
  for (const n of names) {
    if (n === '') return 'a column name is empty';
    const l = n.toLowerCase();
    if (seen.has(l)) {
      return seen.get(l) === n ? `column "${n}" appears twice` : `columns "${seen.get(l)}" and "${n}" differ only by case: Glue and Athena cannot tell them apart`;
    }
    seen.set(l, n);
  }
  return undefined;
}

/** A Parquet object whose footer or data cannot be read (`message`: the reader's words, naming the object). */
export const unreadableParquetReason = (message: string) => `not a readable Parquet file: ${message}`;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export const isBlank = (line: Buffer) => line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d);

export function badRecordReason(line: Buffer, length = line.length): string | undefined {
  if (length > MAX_RECORD_BYTES) return `record of ${length} bytes is over the ${MAX_RECORD_BYTES}-byte limit`;
  if (isBlank(line)) return undefined;
  let text: string;
  try {
    text = strictUtf8.decode(line);
  } catch {
    return 'not valid UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `not a JSON object (${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`})`;
  }
  return undefined;
}

/** A JSON value's kind as the majority rule compares them (null and absent have none). */
export const kindOf = (v: unknown) => (v === null || v === undefined ? undefined : Array.isArray(v) ? 'array' : typeof v);

/**
 * The majority-kind rule: per object key, why it is set aside when one of its fields holds a kind
 * (object, number, string, ...) other than the one most records hold there (ties: the first by name).
 */
export function minorityKindReasons(
  kindsOf: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>,
  totals: ReadonlyMap<string, ReadonlyMap<string, number>>,
): Map<string, string> {
  const majority = new Map([...totals].map(([c, t]) => [c, [...t].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]]));
  const reasons = new Map<string, string>();
  for (const [key, perColumn] of kindsOf) {
    const clash = [...perColumn].find(([c, kinds]) => [...kinds].some((k) => k !== majority.get(c)));
    if (!clash) continue;
    const [c, kinds] = clash;
    reasons.set(key, `field "${c}" is ${[...kinds].filter((k) => k !== majority.get(c)).join('/')} here but ${majority.get(c)} in most records`);
  }
  return reasons;
}

/** `shown`: the value as JSON text. */
export const misfitReason = (field: string, shown: string, type: string) => `field "${field}" is ${shown}, which is not a ${type}`;
