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

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field as PostgreSQL's COPY reads it: null is an unquoted empty field, an empty string is `""`, anything
 * with a comma, quote or line break is quoted with quotes doubled.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  if (value === '') return '""';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(values: (string | null)[]): string {
  let line = '';
  for (let index = 0; index < values.length; index += 1) {
    if (index > 0) line += ',';
    line += csvField(values[index] ?? null);
  }
  return `${line}\n`;
}
