import { Transform } from 'node:stream';

/**
 * Passes CSV bytes through unchanged while counting records (newlines outside quotes), so a job knows how many
 * rows it streamed without parsing or holding them. Every quote toggles "inside quotes" (a doubled quote toggles
 * twice); the bytes between quotes are searched with indexOf (memchr), not a byte at a time: the extract's byte
 * loop was its largest cost of its own (~350 MB/s against 1-2 GB/s).
 */
export class CsvRecordCounter extends Transform {
  records = 0;
  #insideQuotes = false;

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null, data?: Buffer) => void,
  ) {
    let at = 0;
    while (at < chunk.length) {
      const quote = chunk.indexOf(QUOTE_BYTE, at);
      if (!this.#insideQuotes) {
        const end = quote < 0 ? chunk.length : quote;
        for (let newline = chunk.indexOf(NEWLINE_BYTE, at); newline >= 0 && newline < end; ) {
          this.records += 1;
          newline = chunk.indexOf(NEWLINE_BYTE, newline + 1);
        }
      }
      if (quote < 0) break;
      this.#insideQuotes = !this.#insideQuotes;
      at = quote + 1;
    }
    done(null, chunk);
  }
}

const QUOTE_BYTE = 0x22;
const NEWLINE_BYTE = 0x0a;

/**
 * Reads CSV as PostgreSQL's COPY writes it (the extract's raw objects), a chunk at a time, into rows of cells: an
 * unquoted empty cell is null, a quoted one the empty string, `""` inside quotes one quote. It reads only what COPY
 * writes and csv-parse (the reader of any other CSV, see jobs/validate) reads the same way: records ended by `\n`,
 * fields quoted whole or not at all, valid UTF-8. At anything else (a `\r` outside quotes, an empty line, a quote
 * inside an unquoted field or text after a closing one, an unclosed quote at the end, bytes that are not UTF-8) it
 * returns null and reads no further: the caller reads the object again with csv-parse, whose rows up to there are
 * the ones returned.
 */
export class CopyCsvReader {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** The text of the record not yet complete at the end of the last chunk. */
  #rest = '';
  #failed = false;

  /** The records the chunk completes; null when the text is not plain COPY CSV (see the class). */
  push(chunk: Uint8Array): (string | null)[][] | null {
    if (this.#failed) return null;
    let text: string;
    try {
      text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    } catch {
      return this.#fail();
    }
    return this.#records(text, false);
  }

  /** The last record (one without a final newline); null as push. */
  end(): (string | null)[][] | null {
    if (this.#failed) return null;
    let text: string;
    try {
      text = this.#rest + this.#decoder.decode();
    } catch {
      return this.#fail();
    }
    return this.#records(text, true);
  }

  #fail(): null {
    this.#failed = true;
    this.#rest = '';
    return null;
  }

  #records(text: string, final: boolean): (string | null)[][] | null {
    const rows: (string | null)[][] = [];
    const length = text.length;
    let at = 0;
    while (at < length) {
      const row = readRecord(text, at, final);
      if (row === INCOMPLETE) break;
      if (row === NOT_PLAIN) return this.#fail();
      rows.push(row.cells);
      at = row.end;
    }
    this.#rest = at < length ? text.slice(at) : '';
    return rows;
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const INCOMPLETE = 0;
const NOT_PLAIN = 1;

/**
 * The record starting at `from`: its cells and where the next one starts; INCOMPLETE when the text ends first
 * (more may come), NOT_PLAIN when COPY would not have written it.
 */
function readRecord(
  text: string,
  from: number,
  final: boolean,
): { cells: (string | null)[]; end: number } | typeof INCOMPLETE | typeof NOT_PLAIN {
  const length = text.length;
  // An empty line is a record of one empty cell to csv-parse; COPY never writes one.
  if (text.charCodeAt(from) === NEWLINE) return NOT_PLAIN;
  const cells: (string | null)[] = [];
  let at = from;
  for (;;) {
    let code: number;
    if (text.charCodeAt(at) === QUOTE) {
      let value = '';
      let start = at + 1;
      for (;;) {
        const close = text.indexOf('"', start);
        if (close === -1 || close + 1 === length) {
          // The quote is not closed yet, or is it a doubled one? Only the next chunk can tell.
          if (!final) return INCOMPLETE;
          if (close === -1) return NOT_PLAIN;
          value += text.slice(start, close);
          at = close + 1;
          break;
        }
        if (text.charCodeAt(close + 1) === QUOTE) {
          value += text.slice(start, close + 1);
          start = close + 2;
          continue;
        }
        value += text.slice(start, close);
        at = close + 1;
        break;
      }
      cells.push(value);
      code = at < length ? text.charCodeAt(at) : -1;
      if (code !== COMMA && code !== NEWLINE && code !== -1) return NOT_PLAIN;
    } else {
      const start = at;
      code = -1;
      for (; at < length; at += 1) {
        const character = text.charCodeAt(at);
        if (character === COMMA || character === NEWLINE) {
          code = character;
          break;
        }
        if (character === QUOTE || character === RETURN) return NOT_PLAIN;
      }
      if (code === -1 && !final) return INCOMPLETE;
      cells.push(at === start ? null : text.slice(start, at));
    }
    if (code === COMMA) {
      at += 1;
      // A record cannot end after a comma without its last cell: at the end of the text, more may come.
      if (at === length && !final) return INCOMPLETE;
      continue;
    }
    return { cells, end: code === NEWLINE ? at + 1 : at };
  }
}
