import { Transform } from 'node:stream';

/**
 * Passes CSV bytes through unchanged while counting records (newlines outside quotes), so a job knows how many
 * rows it streamed without parsing or holding them.
 */
export class CsvRecordCounter extends Transform {
  records = 0;
  #insideQuotes = false;

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null, data?: Buffer) => void,
  ) {
    for (let index = 0; index < chunk.length; index += 1) {
      const byte = chunk[index];
      if (byte === 0x22) this.#insideQuotes = !this.#insideQuotes;
      else if (byte === 0x0a && !this.#insideQuotes) this.records += 1;
    }
    done(null, chunk);
  }
}
