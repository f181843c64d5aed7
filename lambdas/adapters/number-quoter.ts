import { Transform, type TransformCallback } from 'node:stream';
import { MAX_RECORD_BYTES } from '../core/formats';
import { mentionsAny, numberSpans, withQuotes, type NumberFields, type NumberSpan } from '../core/json-numbers';

const QUOTABLE_LINE_BYTES = MAX_RECORD_BYTES - 64 * 1024;

/**
 * Quotes the number values of the given fields, line by line (see numberSpans). A line past the
 * record size limit is passed through as it is (it is rejected later anyway), so memory and time
 * stay linear whatever a line's length. Fed chunk by chunk or with a whole object at once.
 */
export class NumberQuoting {
  changed = false;
  /** The unfinished line so far. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an oversized line: bytes go straight through until its newline. */
  private passing = false;

  constructor(private readonly fields: NumberFields) {}

  /** Complete lines, quoted. */
  private quote(lines: Buffer): Buffer {
    if (!mentionsAny(lines, this.fields)) return lines;
    const spans: NumberSpan[] = [];
    let start = 0;
    // A line near the size limit is left as it is: quoting must not push it over.
    const scan = (from: number, to: number) => to - from <= QUOTABLE_LINE_BYTES && numberSpans(lines, from, to, this.fields, spans);
    for (let nl = lines.indexOf(0x0a); nl !== -1; nl = lines.indexOf(0x0a, start)) {
      scan(start, nl);
      start = nl + 1;
    }
    if (start < lines.length) scan(start, lines.length);
    if (!spans.length) return lines;
    this.changed = true;
    return withQuotes(lines, spans);
  }

  private hold(part: Buffer, out: Buffer[]): void {
    if (!part.length) return;
    this.pending.push(part);
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_RECORD_BYTES) {
      out.push(...this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.passing = true;
    }
  }

  feed(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let start = 0;
    if (this.passing) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) return chunk;
      out.push(chunk.subarray(0, nl + 1));
      this.passing = false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last < start) {
      this.hold(chunk.subarray(start), out);
    } else {
      const first = chunk.indexOf(0x0a, start);
      let complete = chunk.subarray(start, last + 1);
      if (this.pendingBytes + first - start > MAX_RECORD_BYTES) {
        // The held line ends here over the limit: it goes through as it is.
        out.push(...this.pending, chunk.subarray(start, first + 1));
        this.pending = [];
        this.pendingBytes = 0;
        complete = chunk.subarray(first + 1, last + 1);
      }
      out.push(this.quote(this.pending.length ? Buffer.concat([...this.pending, complete]) : complete));
      this.pending = [];
      this.pendingBytes = 0;
      this.hold(chunk.subarray(last + 1), out);
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  end(): Buffer | undefined {
    return this.pending.length ? this.quote(Buffer.concat(this.pending)) : undefined;
  }
}

/** {@link NumberQuoting} as a stream stage. */
export class NumberQuoter extends Transform {
  private readonly q: NumberQuoting;

  constructor(fields: NumberFields) {
    super();
    this.q = new NumberQuoting(fields);
  }

  get changed(): boolean {
    return this.q.changed;
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    done(null, this.q.feed(chunk));
  }

  _flush(done: TransformCallback): void {
    done(null, this.q.end());
  }
}
