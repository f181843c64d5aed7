/** Rules for inputs the engine cannot take as they are: the reasons recorded when they are set aside. */

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
