import { Transform, type TransformCallback } from 'node:stream';
import { CsvReader } from '../core/csv-records';
import { tooLarge } from './fetch-errors';

/** Passes a CSV object through, reading it with {@link CsvReader} under the decompressed size cap. */
export class CsvCounter extends Transform {
  readonly reader = new CsvReader();
  private bytes = 0;

  constructor(private readonly maxBytes: number, private readonly label: string) {
    super();
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(this.label, this.maxBytes));
      return;
    }
    done(null, this.reader.feed(chunk));
  }
}
