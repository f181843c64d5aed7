/**
 * Sets of half-open integer ranges: Kafka offsets held by a version, lines emptied in a staged
 * chunk, rows left out of a Parquet input.
 */

/** Half-open ranges `[from, to)`, sorted and disjoint. */
export type Intervals = ReadonlyArray<readonly [number, number]>;

/** Sorted, disjoint, empty ranges dropped, touching ones joined. */
export function normalize(list: Iterable<readonly [number, number]>): Intervals {
  const sorted = [...list].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export const union = (a: Intervals, b: Intervals): Intervals => normalize([...a, ...b]);

/** `a` without `b`. */
export function subtract(a: Intervals, b: Intervals): Intervals {
  const out: Array<[number, number]> = [];
  for (const [from, to] of a) {
    let cur = from;
    for (const [bf, bt] of b) {
      if (bt <= cur) continue;
      if (bf >= to) break;
      if (bf > cur) out.push([cur, bf]);
      cur = Math.max(cur, bt);
      if (cur >= to) break;
    }
    if (cur < to) out.push([cur, to]);
  }
  return out;
}

export const size = (a: Intervals) => a.reduce((n, [x, y]) => n + y - x, 0);
