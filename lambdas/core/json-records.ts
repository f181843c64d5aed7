/**
 * The fetch's own reading of every JSON Lines record, byte by byte, independent of the engine:
 * whether the line is one JSON object, its field names at every depth, and the values no engine
 * type holds as written. It decides what goes to quarantine before the engine sees a byte, and its
 * counts are what the staged table is checked against afterwards.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_RECORD_BYTES } from './formats';
import { isBlankByte } from './bytes';
import { decodeName, FieldPaths } from './json-field-paths';
import { notAnObjectReason, numberProblem, scanString, type StringFlags } from './json-values';

/** The scanner's paths, re-exported: its callers build one per bin. */
export { FieldPaths };

// Local to the hot loop: a call into another module costs a property load per byte when not bundled.
const QUOTE = 0x22;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** What one record holds, as far as the checks need; arrays are reused between records. */
export interface RecordFacts {
  /** Why the record cannot be written as it is (it goes to quarantine), else undefined. */
  problem: string | undefined;
  /** Top-level field ids, in order. */
  readonly keys: number[];
  /** Top-level field ids whose value is `null`. */
  readonly nulls: number[];
  /** Every field path the record holds (each once), top level included. */
  readonly paths: number[];
  /** Integers beyond 2^53 (exact in a bigint, rounded in a double), with their path. */
  readonly wideInts: Array<{ path: number; text: string }>;
}

export const newFacts = (): RecordFacts => ({ problem: undefined, keys: [], nulls: [], paths: [], wideInts: [] });

/**
 * Scans one record, `buf[start, end)` without its newline: fills `out` and returns false when the
 * line is blank (not a record). `exact` holds top-level fields whose numbers are staged as text
 * (declared types): their values are not judged as numbers here. Every stack lives in `scratch`
 * arrays owned by the caller's {@link RecordScanner}.
 */
export class RecordScanner {
  private readonly kinds: number[] = [];
  private readonly pathOf: number[] = [];
  private readonly keyBase: number[] = [];
  private readonly keyIds: number[] = [];
  private readonly keyNames: string[] = [];
  private seen: Int32Array = new Int32Array(64);
  private epoch = 0;
  /** What the strings scanned held: {@link scanString} sets them. */
  private readonly flags: StringFlags = { escaped: false, high: false };

  constructor(readonly paths: FieldPaths, private readonly exact: ReadonlySet<string> = new Set()) {}

  scan(buf: Buffer, start: number, end: number, out: RecordFacts): boolean {
    out.problem = undefined;
    if (out.keys.length) out.keys.length = 0;
    if (out.nulls.length) out.nulls.length = 0;
    if (out.paths.length) out.paths.length = 0;
    if (out.wideInts.length) out.wideInts.length = 0;
    let i = start;
    while (i < end && isBlankByte(buf[i])) i++;
    if (i === end) return false;
    if (end - start > MAX_RECORD_BYTES) {
      out.problem = `record of ${end - start} bytes is over the ${MAX_RECORD_BYTES}-byte limit`;
      return true;
    }
    this.flags.high = false;
    if (buf[i] !== 0x7b) {
      if (!isUtf8(buf.subarray(start, end))) {
        out.problem = 'not valid UTF-8';
        return true;
      }
      out.problem = notAnObjectReason(buf.subarray(start, end));
      return true;
    }
    if (++this.epoch === 0x7fffffff) {
      this.epoch = 1;
      this.seen.fill(0);
    }
    const problem = this.parse(buf, i, end, out);
    // Bytes past ASCII sit in strings only (anywhere else they are a syntax error): check them once, if any.
    if ((this.flags.high || problem !== undefined) && !isUtf8(buf.subarray(start, end))) {
      out.problem = 'not valid UTF-8';
    } else if (problem !== undefined) {
      out.problem = problem === MALFORMED ? notAnObjectReason(buf.subarray(start, end)) : problem;
    }
    return true;
  }

  private mark(id: number, out: RecordFacts): void {
    if (id >= this.seen.length) {
      const grown = new Int32Array(Math.max(id + 1, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    if (this.seen[id] !== this.epoch) {
      this.seen[id] = this.epoch;
      out.paths.push(id);
    }
  }

  /** Undefined when the record is fine; MALFORMED for a syntax error (reason worded by the caller). */
  private parse(buf: Buffer, i: number, end: number, out: RecordFacts): string | undefined {
    const { kinds, pathOf, keyBase, keyIds, keyNames, paths } = this;
    // Empty after any record that parsed; a syntax error may leave some behind.
    if (kinds.length) {
      kinds.length = 0;
      pathOf.length = 0;
      keyBase.length = 0;
      keyIds.length = 0;
      keyNames.length = 0;
    }
    // The path the next value is at, and whether it is a top-level field's value.
    let valuePath = 0;
    let topField = -1;
    let state = VALUE;
    for (;;) {
      while (i < end && isBlankByte(buf[i])) i++;
      if (state === DONE) return i === end ? undefined : MALFORMED;
      if (i >= end) return MALFORMED;
      const b = buf[i];
      if (state === VALUE) {
        if (b === 0x7b || b === 0x5b) {
          kinds.push(b);
          pathOf.push(b === 0x7b ? valuePath : paths.elements(valuePath));
          keyBase.push(keyIds.length);
          i++;
          while (i < end && isBlankByte(buf[i])) i++;
          if (buf[i] === (b === 0x7b ? 0x7d : 0x5d)) {
            i++;
            this.pop();
            state = kinds.length ? AFTER : DONE;
          } else if (b === 0x7b) state = KEY;
          else {
            valuePath = pathOf[pathOf.length - 1];
            topField = -1;
          }
          continue;
        }
        if (b === QUOTE) {
          const r = scanString(buf, i, end, this.flags);
          if (r < 0) return r === -2 ? 'a string holds an unpaired UTF-16 surrogate escape (not valid Unicode)' : MALFORMED;
          i = r;
        } else if (b === 0x2d || isDigit(b)) {
          const from = i;
          let int = true;
          if (buf[i] === 0x2d) i++;
          if (buf[i] === 0x30) i++;
          else if (isDigit(buf[i])) while (i < end && isDigit(buf[i])) i++;
          else return MALFORMED;
          let expFrom = -1;
          if (buf[i] === 0x2e) {
            int = false;
            const d = ++i;
            while (i < end && isDigit(buf[i])) i++;
            if (i === d) return MALFORMED;
          }
          if (buf[i] === 0x65 || buf[i] === 0x45) {
            int = false;
            i++;
            if (buf[i] === 0x2b || buf[i] === 0x2d) i++;
            expFrom = i;
            while (i < end && isDigit(buf[i])) i++;
            if (i === expFrom) return MALFORMED;
          }
          if (topField < 0 || !this.exact.size || !this.exact.has(paths.name[topField])) {
            const bad = numberProblem(buf, from, i, int, expFrom, paths, valuePath, out.wideInts);
            if (bad) return bad;
          }
        } else if (b === 0x74) {
          if (!(buf[i + 1] === 0x72 && buf[i + 2] === 0x75 && buf[i + 3] === 0x65)) return MALFORMED;
          i += 4;
        } else if (b === 0x66) {
          if (!(buf[i + 1] === 0x61 && buf[i + 2] === 0x6c && buf[i + 3] === 0x73 && buf[i + 4] === 0x65)) return MALFORMED;
          i += 5;
        } else if (b === 0x6e) {
          if (!(buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c)) return MALFORMED;
          i += 4;
          if (topField >= 0) out.nulls.push(topField);
        } else return MALFORMED;
        state = kinds.length ? AFTER : DONE;
        continue;
      }
      if (state === AFTER) {
        const top = kinds[kinds.length - 1];
        if (b === 0x2c) {
          i++;
          if (top === 0x7b) state = KEY;
          else {
            state = VALUE;
            valuePath = pathOf[pathOf.length - 1];
            topField = -1;
          }
          continue;
        }
        if ((top === 0x7b && b === 0x7d) || (top === 0x5b && b === 0x5d)) {
          i++;
          this.pop();
          state = kinds.length ? AFTER : DONE;
          continue;
        }
        return MALFORMED;
      }
      // KEY
      if (b !== QUOTE) return MALFORMED;
      const r = scanString(buf, i, end, this.flags);
      if (r < 0) return r === -2 ? 'a field name holds an unpaired UTF-16 surrogate escape (not valid Unicode)' : MALFORMED;
      const from = i + 1;
      const to = r - 1;
      i = r;
      while (i < end && isBlankByte(buf[i])) i++;
      if (buf[i] !== 0x3a) return MALFORMED;
      i++;
      const parent = pathOf[pathOf.length - 1];
      const escaped = this.flags.escaped;
      const id = paths.child(parent, buf, from, to, escaped);
      const mapLike = paths.mapLike[parent];
      const name = mapLike ? decodeName(buf, from, to, escaped) : paths.name[id];
      if (name === '') return `field name is empty${parent ? ` (in "${paths.text(parent)}")` : ''}`;
      const base = keyBase[keyBase.length - 1];
      const fold = paths.fold[id];
      for (let k = base; k < keyIds.length; k++) {
        const same = mapLike ? keyNames[k] === name : keyIds[k] === id;
        if (same) return `duplicate field "${parent ? `${paths.text(parent)}.` : ''}${name}"`;
        if (mapLike ? keyNames[k].toLowerCase() === name.toLowerCase() : paths.fold[keyIds[k]] === fold) {
          return `fields "${keyNames[k]}" and "${name}"${parent ? ` (in "${paths.text(parent)}")` : ''} differ only by case: Glue and Athena cannot tell them apart`;
        }
      }
      keyIds.push(id);
      keyNames.push(name);
      this.mark(id, out);
      valuePath = id;
      topField = kinds.length === 1 ? id : -1;
      if (topField >= 0) out.keys.push(id);
      state = VALUE;
    }
  }

  private pop(): void {
    this.kinds.pop();
    this.pathOf.pop();
    const base = this.keyBase.pop()!;
    this.keyIds.length = base;
    this.keyNames.length = base;
  }
}

const MALFORMED = '\u0000malformed';
const VALUE = 0;
const AFTER = 1;
const KEY = 2;
const DONE = 3;
