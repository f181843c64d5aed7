/**
 * The fetch's own reading of every JSON Lines record, byte by byte, independent of the engine:
 * whether the line is one JSON object, its field names at every depth, and the values no engine
 * type holds as written. It decides what goes to quarantine before the engine sees a byte, and its
 * counts are what the staged table is checked against afterwards.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_RECORD_BYTES } from './formats';
import { isBlankByte } from './bytes';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ARRAY = '[]';
/** A parent with more distinct field names than this is a map (data as keys): its names are not tracked one by one. */
export const MAP_LIKE_FIELDS = 200;

/**
 * Field paths seen in a bin's records, interned: `m.x` is child `x` of `m`, array elements are the
 * child `[]` of their array. Ids are stable for the bin, so counts can be kept in arrays.
 */
export class FieldPaths {
  readonly parent: number[] = [-1];
  readonly name: string[] = [''];
  /** Id of the path with every name lower-cased: equal for paths Glue and Athena cannot tell apart. */
  readonly fold: number[] = [0];
  /** A map-like path: its children are all `*`. */
  readonly mapLike: boolean[] = [false];
  private readonly byName: Array<Map<string, number>> = [new Map<string, number>()];
  private readonly folds = new Map<string, number>([['', 0]]);
  /** Spellings seen (name bytes as written, escapes undecoded), by parent and hash: no string is made for a known name. */
  private readonly spellings = new Map<number, number>();
  private readonly spellingBytes: Buffer[] = [];
  private readonly spellingId: number[] = [];
  private readonly spellingNext: number[] = [];
  private readonly spellingsOf: number[] = [0];

  get size(): number {
    return this.parent.length;
  }

  /** The child of `parent` named by the JSON string body `buf[from, to)`. */
  child(parent: number, buf: Buffer, from: number, to: number, escaped: boolean): number {
    let h = 0x811c9dc5;
    for (let k = from; k < to; k++) h = Math.imul(h ^ buf[k], 16777619);
    const slot = parent * 0x100000000 + (h >>> 0);
    const len = to - from;
    for (let s = this.spellings.get(slot) ?? -1; s !== -1; s = this.spellingNext[s]) {
      const known = this.spellingBytes[s];
      if (known.length !== len) continue;
      let k = 0;
      while (k < len && known[k] === buf[from + k]) k++;
      if (k === len) return this.spellingId[s];
    }
    const name = decodeName(buf, from, to, escaped);
    let id = this.byName[parent].get(name);
    if (id === undefined) {
      if (!this.mapLike[parent] && this.byName[parent].size >= MAP_LIKE_FIELDS) this.mapLike[parent] = true;
      id = this.add(parent, this.mapLike[parent] ? '*' : name);
    }
    // Data keys under a map-like parent are not worth remembering one by one.
    if (!this.mapLike[parent] || this.spellingsOf[parent] < MAP_LIKE_FIELDS) this.spell(slot, parent, Buffer.from(buf.subarray(from, to)), id);
    return id;
  }

  private spell(slot: number, parent: number, bytes: Buffer, id: number): void {
    this.spellingBytes.push(bytes);
    this.spellingId.push(id);
    this.spellingNext.push(this.spellings.get(slot) ?? -1);
    this.spellings.set(slot, this.spellingBytes.length - 1);
    this.spellingsOf[parent]++;
  }

  /** The path of an array's elements (`[]` cannot be a field's spelling: a name's bytes never hold the brackets unquoted). */
  elements(parent: number): number {
    let id = this.elementsOf[parent];
    if (id === undefined || id < 0) id = this.elementsOf[parent] = this.add(parent, ARRAY);
    return id;
  }

  private readonly elementsOf: number[] = [-1];

  private add(parent: number, name: string): number {
    const existing = name === ARRAY ? undefined : this.byName[parent].get(name);
    if (existing !== undefined) return existing;
    const id = this.parent.length;
    this.parent.push(parent);
    this.name.push(name);
    this.mapLike.push(false);
    this.byName.push(new Map());
    this.spellingsOf.push(0);
    this.elementsOf.push(-1);
    if (name !== ARRAY) this.byName[parent].set(name, id);
    const foldKey = `${this.fold[parent]}\u0000${name.toLowerCase()}`;
    let f = this.folds.get(foldKey);
    if (f === undefined) this.folds.set(foldKey, (f = id));
    this.fold.push(f);
    return id;
  }

  /** `m.x`, `l[].a`: for reports. */
  text(id: number): string {
    const parts: string[] = [];
    for (let p = id; p > 0; p = this.parent[p]) parts.push(this.name[p]);
    let out = '';
    for (let i = parts.length - 1; i >= 0; i--) out += parts[i] === ARRAY || !out ? parts[i] : `.${parts[i]}`;
    return out;
  }

  /** Named children of a path (map-like `*` included, array elements not), as ids. */
  childrenOf(parent: number): number[] {
    return [...this.byName[parent].values()];
  }

  childNamed(parent: number, name: string): number | undefined {
    return this.byName[parent].get(name);
  }

  elementsIfAny(parent: number): number | undefined {
    const id = this.elementsOf[parent];
    return id === undefined || id < 0 ? undefined : id;
  }
}

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

/** A JSON string body as text (escapes decoded only where there are any). */
const decodeName = (buf: Buffer, from: number, to: number, escaped: boolean): string =>
  escaped ? (JSON.parse(buf.toString('utf8', from - 1, to + 1)) as string) : buf.toString('utf8', from, to);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE = 2n ** 53n;

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const hex = (b: number) => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);

/** Why a JSON text is not one object, in the words JSON.parse uses (rare path: a record already found bad). */
export function notAnObjectReason(line: Buffer): string {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return 'malformed JSON';
  return `not a JSON object (${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`})`;
}

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
  /** Whether the last string scanned held an escape. */
  private escaped = false;
  /** Whether the record has a byte past ASCII. */
  private high = false;

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
    this.high = false;
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
    if ((this.high || problem !== undefined) && !isUtf8(buf.subarray(start, end))) {
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
          const r = this.string(buf, i, end);
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
            const bad = this.number(buf, from, i, int, expFrom, valuePath, out);
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
      const r = this.string(buf, i, end);
      if (r < 0) return r === -2 ? 'a field name holds an unpaired UTF-16 surrogate escape (not valid Unicode)' : MALFORMED;
      const from = i + 1;
      const to = r - 1;
      i = r;
      while (i < end && isBlankByte(buf[i])) i++;
      if (buf[i] !== 0x3a) return MALFORMED;
      i++;
      const parent = pathOf[pathOf.length - 1];
      const escaped = this.escaped;
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

  /** Index after the closing quote of the string at `buf[i]`; -1 malformed, -2 an unpaired surrogate escape. */
  private string(buf: Buffer, i: number, end: number): number {
    i++;
    this.escaped = false;
    for (;;) {
      let b = 0;
      while (i < end && (b = buf[i]) !== QUOTE && b !== BACKSLASH && b >= 0x20) {
        if (b >= 0x80) this.high = true;
        i++;
      }
      if (i >= end || b < 0x20) return -1;
      if (b === QUOTE) return i + 1;
      this.escaped = true;
      const e = buf[i + 1];
      if (e === 0x75) {
        const code = this.hex4(buf, i + 2, end);
        if (code < 0) return -1;
        i += 6;
        if (code >= 0xdc00 && code <= 0xdfff) return -2;
        if (code >= 0xd800 && code <= 0xdbff) {
          if (buf[i] !== BACKSLASH || buf[i + 1] !== 0x75) return -2;
          const low = this.hex4(buf, i + 2, end);
          if (low < 0) return -1;
          if (low < 0xdc00 || low > 0xdfff) return -2;
          i += 6;
        }
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
      else return -1;
    }
  }

  private hex4(buf: Buffer, i: number, end: number): number {
    if (i + 4 > end) return -1;
    const a = hex(buf[i]);
    const b = hex(buf[i + 1]);
    const c = hex(buf[i + 2]);
    const d = hex(buf[i + 3]);
    return a < 0 || b < 0 || c < 0 || d < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
  }

  /** Why a number cannot be kept as written by any inferred type, or undefined. */
  private number(buf: Buffer, from: number, to: number, int: boolean, expFrom: number, path: number, out: RecordFacts): string | undefined {
    if (int) {
      const neg = buf[from] === 0x2d;
      if (neg && to - from === 2 && buf[from + 1] === 0x30) {
        return `field "${this.paths.text(path)}" is -0, which an integer column stores as 0 (declare the column string to keep it)`;
      }
      if (to - from - (neg ? 1 : 0) < 16) return undefined;
      const text = buf.toString('latin1', from, to);
      const n = BigInt(text);
      if (n < INT64_MIN || n > INT64_MAX) return `field "${this.paths.text(path)}" is ${text}, beyond the 64-bit integer range: declare the column decimal(38,0) or string to keep it`;
      if (n > SAFE || n < -SAFE) out.wideInts.push({ path, text });
      return undefined;
    }
    // -0.0: Parquet writers keep one of 0.0 and -0.0 where a column holds both (DuckDB's dictionary does).
    if (buf[from] === 0x2d && buf[from + 1] === 0x30) {
      let k = from + 1;
      while (k < to && (buf[k] === 0x30 || buf[k] === 0x2e)) k++;
      if (k === to || buf[k] === 0x65 || buf[k] === 0x45) {
        return `field "${this.paths.text(path)}" is ${buf.toString('latin1', from, to)}, a negative zero, which the Parquet file would not keep apart from 0 (declare the column string to keep it)`;
      }
    }
    // Only numbers near the ends of the double range need a closer look.
    let big = to - from > 300;
    if (!big && expFrom > 0) {
      let e = 0;
      for (let k = expFrom; k < to && e < 1000; k++) e = e * 10 + buf[k] - 0x30;
      big = e >= 290;
    }
    if (!big) return undefined;
    const text = buf.toString('latin1', from, to);
    const v = Number(text);
    if (!Number.isFinite(v)) return `field "${this.paths.text(path)}" is ${text}, beyond the range of a double`;
    if (v === 0 && /[1-9]/.test(text.replace(/[eE].*$/, ''))) return `field "${this.paths.text(path)}" is ${text}, too small for a double (it would be stored as 0)`;
    return undefined;
  }
}

const MALFORMED = '\u0000malformed';
const VALUE = 0;
const AFTER = 1;
const KEY = 2;
const DONE = 3;
