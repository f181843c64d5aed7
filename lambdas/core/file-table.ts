import type { InputFormat } from './formats';
import type { SourceFile } from './partitions';

const FORMATS: readonly InputFormat[] = ['jsonl', 'jsonl.gz', 'csv', 'csv.gz', 'parquet'];
const FORMAT_CODE = new Map(FORMATS.map((f, i) => [f, i]));
const FROM_GOLD = 1;
const BINARY_ETAG = 2;
/** The name is ASCII: read back as latin1, the fastest decoding. */
const ASCII_NAME = 4;

function grown<T extends Uint8Array | Uint32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  next.set(a);
  return next;
}

function grownBuffer(a: Buffer, need: number): Buffer {
  if (need <= a.length) return a;
  const next = Buffer.allocUnsafeSlow(Math.max(need, a.length * 2));
  a.copy(next);
  return next;
}

/** `"` + 32 lowercase hex digits + `"`: the ETag S3 gives a single-part upload (its MD5). */
function isMd5Etag(e: string): boolean {
  if (e.length !== 34 || e.charCodeAt(0) !== 0x22 || e.charCodeAt(33) !== 0x22) return false;
  for (let i = 1; i < 33; i++) {
    const c = e.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const isAscii = (s: string) => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};

/**
 * Files in columns: a million listed objects take about 60 bytes each here, against some 200 as
 * objects with their own strings (and far more while those strings are slices of the listing's
 * response bodies). Keys are stored as a directory (shared) and a name in one byte pool; the
 * usual S3 ETag as its 16 bytes. Rows are appended, never changed.
 */
export class FileTable {
  private dirs: string[] = [];
  private dirIndex = new Map<string, number>();
  private dirOf = new Uint32Array(16);
  private nameEnd = new Uint32Array(16);
  private names: Buffer = Buffer.allocUnsafeSlow(1024);
  private namesUsed = 0;
  private etagBytes: Buffer = Buffer.allocUnsafeSlow(16 * 16);
  private otherEtags = new Map<number, string>();
  private sizes = new Float64Array(16);
  /** LastModified in ms (NaN: not known, e.g. a gold file). */
  private modified = new Float64Array(16);
  private formats = new Uint8Array(16);
  private flags = new Uint8Array(16);
  private count = 0;
  private lastStamp: string | undefined;
  private lastStampMs = NaN;

  static from(files: Iterable<SourceFile>): FileTable {
    const t = new FileTable();
    for (const f of files) t.push(f);
    return t;
  }

  get length(): number {
    return this.count;
  }

  private room(): void {
    const n = this.count + 1;
    this.dirOf = grown(this.dirOf, n);
    this.nameEnd = grown(this.nameEnd, n);
    this.sizes = grown(this.sizes, n);
    this.modified = grown(this.modified, n);
    this.formats = grown(this.formats, n);
    this.flags = grown(this.flags, n);
    this.etagBytes = grownBuffer(this.etagBytes, n * 16);
  }

  private dir(d: string): number {
    let i = this.dirIndex.get(d);
    if (i === undefined) {
      i = this.dirs.length;
      this.dirs.push(d);
      this.dirIndex.set(d, i);
    }
    return i;
  }

  /** Appends a name; true when it is ASCII. */
  private putName(name: string): boolean {
    const ascii = isAscii(name);
    const len = ascii ? name.length : Buffer.byteLength(name);
    this.names = grownBuffer(this.names, this.namesUsed + len);
    this.names.write(name, this.namesUsed, ascii ? 'latin1' : 'utf8');
    this.namesUsed += len;
    return ascii;
  }

  push(f: Pick<SourceFile, 'key' | 'size' | 'etag' | 'format' | 'fromGold'> & { readonly lastModified?: string }): number {
    const slash = f.key.lastIndexOf('/') + 1;
    return this.pushParts(f.key.slice(0, slash), f.key.slice(slash), f.size, f.etag, f.format, f.fromGold === true, f.lastModified);
  }

  /** Appends a file given as its key's directory (up to the last `/`) and name. */
  pushParts(dir: string, name: string, size: number, etag: string, format: InputFormat, fromGold = false, lastModified?: string): number {
    this.room();
    const i = this.count++;
    // S3 gives LastModified to the second: objects written together share it, parsed once.
    if (lastModified !== this.lastStamp) {
      this.lastStamp = lastModified;
      this.lastStampMs = lastModified ? Date.parse(lastModified) : NaN;
    }
    this.modified[i] = this.lastStampMs;
    this.dirOf[i] = this.dir(dir);
    let flags = (fromGold ? FROM_GOLD : 0) | (this.putName(name) ? ASCII_NAME : 0);
    this.nameEnd[i] = this.namesUsed;
    this.sizes[i] = size;
    this.formats[i] = FORMAT_CODE.get(format)!;
    if (isMd5Etag(etag)) {
      this.etagBytes.write(etag.slice(1, 33), i * 16, 16, 'hex');
      flags |= BINARY_ETAG;
    } else if (etag !== '') this.otherEtags.set(i, etag);
    this.flags[i] = flags;
    return i;
  }

  private etag16(i: number): string {
    return `"${this.etagBytes.toString('hex', i * 16, i * 16 + 16)}"`;
  }

  /** Appends row `i` of `from`, copying its bytes (no strings are made). */
  pushFrom(from: FileTable, i: number): number {
    this.room();
    const j = this.count++;
    this.dirOf[j] = this.dir(from.dirs[from.dirOf[i]]);
    const start = from.nameStart(i);
    const len = from.nameEnd[i] - start;
    this.names = grownBuffer(this.names, this.namesUsed + len);
    from.names.copy(this.names, this.namesUsed, start, start + len);
    this.namesUsed += len;
    this.nameEnd[j] = this.namesUsed;
    this.sizes[j] = from.sizes[i];
    this.modified[j] = from.modified[i];
    this.formats[j] = from.formats[i];
    this.flags[j] = from.flags[i];
    this.etagBytes.set(from.etagBytes.subarray(i * 16, i * 16 + 16), j * 16);
    const other = from.otherEtags.get(i);
    if (other !== undefined) this.otherEtags.set(j, other);
    return j;
  }

  private nameStart(i: number): number {
    return i === 0 ? 0 : this.nameEnd[i - 1];
  }

  key(i: number): string {
    return this.dirs[this.dirOf[i]] + this.names.toString(this.flags[i] & ASCII_NAME ? 'latin1' : 'utf8', this.nameStart(i), this.nameEnd[i]);
  }

  etag(i: number): string {
    if (this.flags[i] & BINARY_ETAG) return this.etag16(i);
    return this.otherEtags.get(i) ?? '';
  }

  size(i: number): number {
    return this.sizes[i];
  }

  /** LastModified in ms since the epoch; NaN when not known. */
  modifiedMs(i: number): number {
    return this.modified[i];
  }

  format(i: number): InputFormat {
    return FORMATS[this.formats[i]];
  }

  fromGold(i: number): boolean {
    return (this.flags[i] & FROM_GOLD) !== 0;
  }

  /** Row `i` as a SourceFile (a new object each time). */
  file(i: number): SourceFile {
    return { key: this.key(i), size: this.sizes[i], etag: this.etag(i), format: this.format(i), ...(this.fromGold(i) ? { fromGold: true } : {}) };
  }

  /** Rows `[from, to)` as SourceFiles. */
  files(from = 0, to = this.count): SourceFile[] {
    const out: SourceFile[] = [];
    for (let i = from; i < to; i++) out.push(this.file(i));
    return out;
  }
}
