/**
 * The fetch's own reading of a CSV object (RFC 4180: comma, double quotes, a doubled quote inside
 * quotes, `\n` or `\r\n` line ends, a header line), byte by byte and independent of the engine:
 * the header's names, the records, and per column how many values are not empty. The engine is
 * told the same dialect; what it stages is checked against these counts.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_RECORD_BYTES } from './formats';

export interface CsvFacts {
  /** Header names as the engine names columns (surrounding spaces trimmed). */
  readonly header: string[];
  readonly records: number;
  /** Per column, records whose value is not empty (an unquoted empty value is NULL; `""` is an empty string). */
  readonly nonEmpty: number[];
  /** Why the object cannot be read as CSV, naming the line; it is then set aside whole. */
  readonly problem?: string;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/** Fed the object's bytes in order; `end()` gives the facts. Memory: the header line and one record's length. */
export class CsvReader {
  private line = 1;
  private inQuotes = false;
  /** After a closing quote: only a comma or a line end may follow. */
  private closed = false;
  private pendingCr = false;
  private field = 0;
  private fieldBytes = 0;
  private quoted = false;
  private recordBytes = 0;
  private records = 0;
  private nonEmpty: number[] = [];
  private headerDone = false;
  private headerBytes: number[] = [];
  private header: string[] = [];
  private problem: string | undefined;
  private first = true;
  private utf8Tail: Buffer = Buffer.alloc(0);

  /**
   * Reads the next bytes; returns them with line-ending carriage returns left out (only `\n` ends a
   * line for the engine then: a file mixing `\r\n` and `\n` is read as its lines say, not refused).
   */
  feed(chunk: Buffer): Buffer {
    if (this.problem) return chunk;
    if (this.first) {
      this.first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    this.checkUtf8(chunk);
    let dropped: number[] | undefined;
    for (let i = 0; i < chunk.length && !this.problem; i++) {
      const b = chunk[i];
      if (b === CR && !this.inQuotes) (dropped ??= []).push(i);
      this.byte(b);
    }
    if (!dropped || this.problem) return chunk;
    const out = Buffer.allocUnsafe(chunk.length - dropped.length);
    let to = 0;
    let from = 0;
    for (const d of dropped) {
      to += chunk.copy(out, to, from, d);
      from = d + 1;
    }
    chunk.copy(out, to, from);
    return out;
  }

  end(): CsvFacts {
    if (!this.problem && this.utf8Tail.length) this.fail('not valid UTF-8 (the object ends inside a character)');
    if (!this.problem) {
      if (this.inQuotes) this.fail(`line ${this.line}: a quoted value is not closed before the end of the object`);
      else if (this.pendingCr) this.fail(`line ${this.line}: a carriage return that does not end the line`);
      else if (this.fieldBytes > 0 || this.field > 0 || this.quoted) this.endRecord();
    }
    const header = this.header;
    return { header, records: this.records, nonEmpty: header.map((_, i) => this.nonEmpty[i] ?? 0), ...(this.problem ? { problem: this.problem } : {}) };
  }

  private fail(why: string): void {
    this.problem ??= why;
  }

  private checkUtf8(chunk: Buffer): void {
    const data = this.utf8Tail.length ? Buffer.concat([this.utf8Tail, chunk]) : chunk;
    // Hold back a character cut at the chunk's end.
    let cut = data.length;
    for (let k = data.length - 1; k >= 0 && k >= data.length - 4; k--) {
      const b = data[k];
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (data.length - k < need) cut = k;
      break;
    }
    if (!isUtf8(data.subarray(0, cut))) this.fail(`not valid UTF-8 (near line ${this.line})`);
    this.utf8Tail = Buffer.from(data.subarray(cut));
  }

  private byte(b: number): void {
    if (++this.recordBytes > MAX_RECORD_BYTES) return this.fail(`line ${this.line}: a record over ${MAX_RECORD_BYTES} bytes`);
    if (!this.headerDone && !(b === LF && !this.inQuotes)) this.headerBytes.push(b);
    if (this.pendingCr) {
      this.pendingCr = false;
      if (b !== LF) return this.fail(`line ${this.line}: a carriage return that does not end the line`);
    }
    if (this.inQuotes) {
      if (b === QUOTE) {
        this.inQuotes = false;
        this.closed = true;
      } else {
        this.fieldBytes++;
        if (b === LF) this.line++;
      }
      return;
    }
    if (b === QUOTE) {
      // A doubled quote inside quotes: `""` reopens them and is one quote of the value.
      if (this.closed) {
        this.closed = false;
        this.inQuotes = true;
        this.fieldBytes++;
        return;
      }
      if (this.fieldBytes === 0 && !this.quoted) {
        this.quoted = true;
        this.inQuotes = true;
        return;
      }
      // A quote inside an unquoted value is part of it.
      this.fieldBytes++;
      return;
    }
    if (b === COMMA) return this.endField();
    if (b === CR) {
      this.pendingCr = true;
      return;
    }
    if (b === LF) {
      this.endRecord();
      this.line++;
      return;
    }
    if (this.closed) return this.fail(`line ${this.line}: text after a closing quote`);
    this.fieldBytes++;
  }

  private endField(): void {
    if (!this.headerDone) {
      this.field++;
    } else {
      if (this.fieldBytes > 0 || this.quoted) this.nonEmpty[this.field] = (this.nonEmpty[this.field] ?? 0) + 1;
      this.field++;
    }
    this.fieldBytes = 0;
    this.quoted = false;
    this.closed = false;
    if (this.headerDone && this.field >= this.header.length) this.fail(`line ${this.line}: more values than the header's ${this.header.length} names`);
  }

  private endRecord(): void {
    const blank = this.field === 0 && this.fieldBytes === 0 && !this.quoted;
    if (!this.headerDone) {
      this.headerDone = true;
      this.header = parseHeader(Buffer.from(this.headerBytes.filter((x, i, a) => !(x === CR && i === a.length - 1))));
      this.headerBytes = [];
      this.resetRecord();
      if (!this.header.length) this.fail('line 1: the header is empty');
      return;
    }
    // The engine skips a blank line, except in a one-column file, where it is an empty value.
    if (blank && this.header.length > 1) return this.resetRecord();
    if (this.fieldBytes > 0 || this.quoted) this.nonEmpty[this.field] = (this.nonEmpty[this.field] ?? 0) + 1;
    if (this.field + 1 !== this.header.length) {
      this.fail(`line ${this.line}: ${this.field + 1} value(s) where the header has ${this.header.length} names`);
    }
    this.records++;
    this.resetRecord();
  }

  private resetRecord(): void {
    this.field = 0;
    this.fieldBytes = 0;
    this.quoted = false;
    this.closed = false;
    this.recordBytes = 0;
  }
}

const trimName = (bytes: number[]) => Buffer.from(bytes).toString('utf8').replace(/^[ \t]+|[ \t]+$/g, '');

/** The header's names, unquoted and trimmed as the engine names its columns. */
function parseHeader(line: Buffer): string[] {
  const names: string[] = [];
  let cur: number[] = [];
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (inQuotes) {
      if (b === QUOTE && line[i + 1] === QUOTE) {
        cur.push(QUOTE);
        i++;
      } else if (b === QUOTE) inQuotes = false;
      else cur.push(b);
    } else if (b === QUOTE && !cur.length) inQuotes = true;
    else if (b === COMMA) {
      names.push(trimName(cur));
      cur = [];
    } else cur.push(b);
  }
  names.push(trimName(cur));
  return names;
}
