/**
 * Raw records as validate reads them (shared with the stream service, quarantine replay and rebuild through the
 * job's entry): CSV rows by position (CopyCsvReader, csv-parse from the start at anything that is not plain COPY
 * output), stream lines straight into the contract's fields (EventLineReader, JSON.parse for anything else), and
 * judge(), which checks a record by position where it was read so and gives exactly the verdict of its parsed
 * record object.
 */
import { isAscii } from 'node:buffer';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'csv-parse';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import {
  type CellLayout,
  type CheckOptions,
  type ContractVerdict,
  checksByPosition,
  type DataContract,
  MAX_EVENT_BYTES,
} from '../contracts/data-contracts.ts';
import { CopyCsvReader } from '../lake/csv.ts';
import { type EventLine, EventLineReader, LineBytes } from '../lake/envelope-line.ts';
import { openRawObject, type RawEnvelope } from '../lake/raw-batch.ts';
import { BatchDataError } from '../ops/batch-errors.ts';

/** One record as read from raw: its 1-based row number, the fields, or why it could not even be read. */
export interface RawRecord {
  rowNumber: number;
  fields: Record<string, unknown> | null;
  unreadable: string | null;
  original: unknown;
  /** Values of the contract's stream columns (events only). */
  stream: string[];
  /** The message as consumed (events only): quarantine keeps it, the dead-letter topic gets its bytes. */
  envelope?: RawEnvelope;
}

/**
 * A raw object's records, read once: one at a time (`for await`), or a chunk at a time (`chunks()`: the records of
 * one decompressed chunk, without a promise per record), as validateRecords reads them.
 */
export interface RawRecords extends AsyncIterable<RawRecord> {
  chunks(): AsyncIterable<readonly RawRecord[]>;
}

function rawRecords(chunks: AsyncIterable<readonly RawRecord[]>): RawRecords {
  return {
    chunks: () => chunks,
    async *[Symbol.asyncIterator]() {
      for await (const chunk of chunks) yield* chunk;
    },
  };
}

/** A CSV file's header: its column names, and where each contract finds its columns in the rows. */
class CsvHeader {
  readonly names: string[];
  readonly #layouts = new Map<DataContract, CellLayout>();

  constructor(names: string[]) {
    this.names = names;
  }

  layoutFor(contract: DataContract): CellLayout {
    let layout = this.#layouts.get(contract);
    if (!layout) {
      layout = contract.cellLayout(this.names);
      this.#layouts.set(contract, layout);
    }
    return layout;
  }
}

const NO_STREAM: string[] = [];

/**
 * A CSV row as read, its cells by position: judge checks them by the header's layout (contract.checkCells). The
 * record object, `{ [header name]: cell }`, is made only when asked for (a quarantined row keeps it).
 */
class CsvRecord implements RawRecord {
  readonly rowNumber: number;
  readonly cells: (string | null)[];
  readonly header: CsvHeader;
  readonly unreadable = null;
  readonly stream = NO_STREAM;
  #fields: Record<string, unknown> | undefined;

  constructor(rowNumber: number, cells: (string | null)[], header: CsvHeader) {
    this.rowNumber = rowNumber;
    this.cells = cells;
    this.header = header;
  }

  get fields(): Record<string, unknown> {
    if (!this.#fields) {
      const fields: Record<string, unknown> = {};
      const names = this.header.names;
      for (let index = 0; index < names.length; index += 1)
        fields[names[index] ?? `column_${index}`] = this.cells[index];
      this.#fields = fields;
    }
    return this.#fields;
  }

  get original(): unknown {
    return this.fields;
  }
}

/** One record's verdict: unreadable, or its contract check plus (events) the check of its stream position. */
export function judge(contract: DataContract, record: RawRecord, options: CheckOptions): ContractVerdict {
  let verdict: ContractVerdict;
  if (record instanceof EventLineRecord) {
    // Read by position: a passing event passes as its parsed record would; any other is judged parsed, for the
    // reasons exactly as they are given.
    if (record.contract === contract && checksByPosition(contract)) {
      const read = contract.checkValues(record.values, record.rescued, options);
      const stream = contract.checkStream(record.stream, options, record.publishedMs);
      if (read.reasons.length === 0 && stream.length === 0) return read;
    }
    return judge(contract, record.parsed, options);
  }
  if (record instanceof CsvRecord && checksByPosition(contract)) {
    verdict = contract.checkCells(record.cells, record.header.layoutFor(contract), options);
  } else if (!record.fields) {
    return { values: [], reasons: [record.unreadable ?? 'unreadable record'], rescued: null };
  } else {
    verdict = contract.check(record.fields, options);
  }
  const streamReasons = contract.checkStream(record.stream, options);
  if (streamReasons.length === 0) return verdict;
  return { values: [], reasons: [...verdict.reasons, ...streamReasons], rescued: verdict.rescued };
}

/** A raw object's records (CSV rows or stream envelopes), decompressing `.zst` and `.gz` objects. */
export async function openRawRecords(
  lake: ObjectStore,
  key: string,
  contract: DataContract,
): Promise<RawRecords> {
  const raw = await openRawObject(lake, key);
  return rawRecords(
    contract.format === 'csv'
      ? csvRecordChunks(raw, () => openRawObject(lake, key))
      : envelopeRecordChunks(raw, contract),
  );
}

/** CSV as PostgreSQL writes it: an unquoted empty cell is NULL, a quoted empty cell is the empty string. */
export async function* readCsvRecords(raw: Readable): AsyncGenerator<RawRecord> {
  for await (const chunk of csvRecordChunks(raw)) yield* chunk;
}

/**
 * A CSV object's records, a chunk at a time. Given a way to read the object again, it is read with CopyCsvReader
 * (jobs/lake/csv.ts) as long as it is plain COPY output; at the first thing that is not, or without one, with
 * csv-parse from the start, past the rows already given.
 */
async function* csvRecordChunks(
  raw: Readable,
  readAgain?: () => Promise<Readable>,
): AsyncGenerator<RawRecord[]> {
  let header: CsvHeader | null = null;
  let rowNumber = 0;
  /** CSV records given so far, the header among them. */
  let given = 0;
  const recordsOf = (rows: (string | null)[][]): RawRecord[] => {
    const records: RawRecord[] = [];
    for (const cells of rows) {
      given += 1;
      if (!header) {
        header = new CsvHeader(cells.map((cell) => cell ?? ''));
        continue;
      }
      rowNumber += 1;
      if (cells.length === header.names.length) {
        records.push(new CsvRecord(rowNumber, cells, header));
      } else {
        records.push({
          rowNumber,
          fields: null,
          unreadable: `row has ${cells.length} cells, header has ${header.names.length}`,
          original: cells,
          stream: [],
        });
      }
    }
    return records;
  };
  let input = raw;
  if (readAgain) {
    const reader = new CopyCsvReader();
    let plain = true;
    for await (const chunk of raw as AsyncIterable<Uint8Array>) {
      const rows = reader.push(chunk);
      if (!rows) {
        plain = false;
        break;
      }
      if (rows.length > 0) yield recordsOf(rows);
    }
    const last = plain ? reader.end() : null;
    if (last) {
      if (last.length > 0) yield recordsOf(last);
      return;
    }
    input = await readAgain();
  }
  const skip = given;
  let read = 0;
  const parser = input.pipe(
    parse({
      cast: (value, context) => (value === '' && !context.quoting ? null : value),
      relax_column_count: true,
    }),
  );
  for await (const cells of parser as AsyncIterable<(string | null)[]>) {
    read += 1;
    if (read > skip) yield recordsOf([cells]);
  }
}

/** Raw event lines are envelopes written by stream-ingest; the event inside may be anything a producer sent. */
export async function* readEnvelopeRecords(raw: Readable): AsyncGenerator<RawRecord> {
  for await (const chunk of envelopeRecordChunks(raw)) yield* chunk;
}

/**
 * A raw stream object's records, a chunk at a time. Lines as readline splits them (at `\n`, `\r` or both; an
 * incomplete character at the very end is dropped), empty ones skipped and not counted. Given the contract, lines
 * are read straight into its fields where they can be (EventLineRecord). Each chunk is cut after its last line end
 * and read as bytes (LineBytes: with its text when all ASCII, decoded whole in one flat string); only the line cut
 * by a chunk's start is joined with the bytes before it. Joining whole chunks copied every byte once more, and
 * the fresh buffers (a chunk's worth each) set off a full garbage collection every ~60 ms at scale 20: four times
 * as many as without.
 */
async function* envelopeRecordChunks(raw: Readable, contract?: DataContract): AsyncGenerator<RawRecord[]> {
  const reader = contract ? new EventLineReader(contract.columns, MAX_EVENT_BYTES) : null;
  let rowNumber = 0;
  /** A line that is no envelope: thrown once the records before it are given. */
  let damaged: unknown;
  const readInto = (bytes: Buffer, records: RawRecord[]) => {
    if (damaged) return;
    try {
      readLines(new LineBytes(bytes, isAscii(bytes) ? bytes.toString('latin1') : null), records);
    } catch (error) {
      damaged = error;
    }
  };
  const recordsOf = (bytes: Buffer): RawRecord[] => {
    const records: RawRecord[] = [];
    readInto(bytes, records);
    return records;
  };
  const readLines = (lines: LineBytes, records: RawRecord[]) => {
    const { bytes } = lines;
    const returns = bytes.includes(CR);
    for (let start = 0; start < bytes.length; ) {
      let end = bytes.indexOf(LF, start);
      if (returns) {
        const lineReturn = bytes.indexOf(CR, start);
        if (lineReturn !== -1 && (end === -1 || lineReturn < end)) end = lineReturn;
      }
      if (end === -1) end = bytes.length;
      if (end > start) {
        rowNumber += 1;
        const read = reader ? reader.read(lines, start, end) : null;
        records.push(
          read && contract
            ? eventLineRecord(rowNumber, lines, start, end, contract, read)
            : envelopeRecord(rowNumber, lines.slice(start, end)),
        );
      }
      start = end + 1;
    }
  };
  let rest: Buffer | null = null;
  for await (const chunk of raw as AsyncIterable<Buffer | string>) {
    const read = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const cut = Math.max(read.lastIndexOf(LF), read.lastIndexOf(CR)) + 1;
    if (cut === 0) {
      rest = rest ? Buffer.concat([rest, read]) : read;
      continue;
    }
    let from = 0;
    const records: RawRecord[] = [];
    if (rest) {
      from = firstLineEnd(read) + 1;
      readInto(Buffer.concat([rest, read.subarray(0, from)]), records);
    }
    if (cut > from) readInto(read.subarray(from, cut), records);
    rest = cut < read.length ? read.subarray(cut) : null;
    yield records;
    if (damaged) throw damaged;
  }
  // Not decoder.end(): readline drops an incomplete character at the end (and the bytes read are the text's).
  const last = rest ? new StringDecoder('utf8').write(rest) : '';
  if (last !== '') yield recordsOf(Buffer.from(last));
  if (damaged) throw damaged;
}

const LF = 0x0a;
const CR = 0x0d;

/** Where the first line of the bytes ends (its LF or CR), -1 when none does. */
function firstLineEnd(bytes: Buffer): number {
  const lineFeed = bytes.indexOf(LF);
  const lineReturn = bytes.indexOf(CR);
  return lineFeed === -1 ? lineReturn : lineReturn === -1 ? lineFeed : Math.min(lineFeed, lineReturn);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * An envelope line read straight into its contract's fields (jobs/lake/envelope-line.ts): judge checks the values
 * by position. The envelope and the event object are parsed from the line only when asked for (a quarantined or
 * dead-lettered event keeps them), so they are exactly what parsing the line gives.
 */
class EventLineRecord implements RawRecord {
  readonly rowNumber: number;
  readonly stream: string[];
  /** The record time the stream's publish time text was made from (isoMillis), if it was. */
  readonly publishedMs: number | undefined;
  readonly contract: DataContract;
  readonly values: unknown[];
  /** The undeclared fields (null: none). */
  readonly rescued: Record<string, unknown> | null;
  /** The line, as lines[from, to): cut only when parsed (most events pass and never are). */
  readonly #lines: LineBytes;
  readonly #from: number;
  readonly #to: number;
  #parsed: RawRecord | undefined;

  constructor(
    rowNumber: number,
    lines: LineBytes,
    from: number,
    to: number,
    contract: DataContract,
    read: EventLine,
    stream: string[],
    publishedMs: number | undefined,
  ) {
    this.rowNumber = rowNumber;
    this.#lines = lines;
    this.#from = from;
    this.#to = to;
    this.contract = contract;
    this.values = read.values;
    this.rescued = read.rescued;
    this.stream = stream;
    this.publishedMs = publishedMs;
  }

  /** The record as parsing the line gives it (envelopeRecord). */
  get parsed(): RawRecord {
    this.#parsed ??= envelopeRecord(this.rowNumber, this.#lines.slice(this.#from, this.#to));
    return this.#parsed;
  }

  get fields(): Record<string, unknown> | null {
    return this.parsed.fields;
  }

  get unreadable(): string | null {
    return this.parsed.unreadable;
  }

  get original(): unknown {
    return this.parsed.original;
  }

  get envelope(): RawEnvelope | undefined {
    return this.parsed.envelope;
  }
}

function eventLineRecord(
  rowNumber: number,
  lines: LineBytes,
  from: number,
  to: number,
  contract: DataContract,
  read: EventLine,
): RawRecord {
  const stream = [read.partition, read.offset, publishedAt(read.timestamp)];
  const { timestamp } = read;
  const formatted = timestamp !== null && isIsoMillis(timestamp) ? timestamp : undefined;
  return new EventLineRecord(rowNumber, lines, from, to, contract, read, stream, formatted);
}

function envelopeRecord(rowNumber: number, line: string): RawRecord {
  let envelope: RawEnvelope;
  try {
    envelope = JSON.parse(line) as RawEnvelope;
  } catch (error) {
    // Stream-ingest writes every line itself: one that does not parse means the object was cut or damaged.
    throw new BatchDataError(`raw line ${rowNumber} is not a stream envelope: ${(error as Error).message}`);
  }
  return parseEvent(rowNumber, envelope);
}

/** One stream message as a record to check: unreadable when not UTF-8, not JSON, not an object, or too large. */
export function parseEvent(rowNumber: number, envelope: RawEnvelope): RawRecord {
  const stream = [String(envelope.partition), String(envelope.offset), publishedAt(envelope.timestamp)];
  const unreadable = (reason: string, original: unknown): RawRecord => ({
    rowNumber,
    fields: null,
    unreadable: reason,
    original,
    stream,
    envelope,
  });
  const size =
    envelope.value === undefined
      ? Math.floor(((envelope.value_base64 ?? '').length * 3) / 4)
      : envelope.value.length;
  if (size > MAX_EVENT_BYTES) {
    const bytes = envelope.value === undefined ? size : Buffer.byteLength(envelope.value);
    if (bytes > MAX_EVENT_BYTES) {
      return unreadable(`event is ${bytes} bytes; events above ${MAX_EVENT_BYTES} bytes are refused`, {
        offset: envelope.offset,
        partition: envelope.partition,
        bytes,
      });
    }
  }
  let text = envelope.value;
  if (text === undefined) {
    try {
      text = strictUtf8.decode(Buffer.from(envelope.value_base64 ?? '', 'base64'));
    } catch {
      return unreadable('event is not valid UTF-8', { value_base64: envelope.value_base64 });
    }
  }
  const original = { offset: envelope.offset, partition: envelope.partition, value: text };
  let event: unknown;
  try {
    // A leading byte-order mark is tolerated (RFC 8259 allows ignoring it); raw keeps it.
    event = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    return unreadable(`malformed JSON: ${(error as Error).message}`, original);
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return unreadable('event must be a JSON object', original);
  }
  return {
    rowNumber,
    fields: event as Record<string, unknown>,
    unreadable: null,
    original: event,
    stream,
    envelope,
  };
}

/**
 * The record timestamp as ISO-8601, or the raw value when it is no instant at all: a producer sets it, and the
 * stream column's type check then quarantines the event with a reason instead of failing the whole batch.
 */
function publishedAt(timestamp: unknown): string {
  const epochMs =
    typeof timestamp === 'number' || typeof timestamp === 'string' ? Number(timestamp) : Number.NaN;
  if (isIsoMillis(epochMs)) return isoMillis(epochMs);
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15
    ? new Date(epochMs).toISOString()
    : String(timestamp);
}

const DAY_MS = 86_400_000;
const YEAR_10000_MS = Date.UTC(10_000, 0, 1);
/** The day of the last record time formatted, and its `YYYY-MM-DDT`: events of a batch share a few days. */
const isoDay = { day: Number.NaN, prefix: '' };

/** Whether publishedAt formats the instant itself (isoMillis). */
const isIsoMillis = (epochMs: number) => Number.isInteger(epochMs) && epochMs >= 0 && epochMs < YEAR_10000_MS;

/** toISOString of a whole millisecond from 1970 to 9999 (`YYYY-MM-DDTHH:MM:SS.sssZ`), its day's text made once. */
function isoMillis(epochMs: number): string {
  const day = Math.floor(epochMs / DAY_MS);
  if (day !== isoDay.day) {
    isoDay.day = day;
    isoDay.prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let rest = epochMs - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  const millisText = millis < 10 ? `00${millis}` : millis < 100 ? `0${millis}` : `${millis}`;
  return `${isoDay.prefix}${twoDigits(hours)}:${twoDigits(minutes)}:${twoDigits(seconds)}.${millisText}Z`;
}

const twoDigits = (value: number) => (value < 10 ? `0${value}` : `${value}`);
