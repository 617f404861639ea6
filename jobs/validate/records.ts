/**
 * A raw batch's records checked against their contract into staging and quarantine objects: what the validate job
 * does per batch, on its own thread or on a validation thread, and the stream service per micro-batch. Apart from
 * the job's entry so a validation thread loads only this (the entry loads the job's context, and with it every
 * adapter: 0.45 CPU-s per thread against ~0.2).
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { csvField, csvLine } from '../../adapters/csv.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { CheckOptions, ContractVerdict, DataContract } from '../contracts/data-contracts.ts';
import { maskRescued } from '../contracts/pii.ts';
import { lakeKey } from '../lake/layout.ts';
import { BatchDataError } from '../ops/batch-errors.ts';
import type { ValidationOutcome, ValidationTarget } from './outcome.ts';
import { judge, type RawRecord, type RawRecords } from './raw-records.ts';

/** Metadata columns validate appends to every staged row; bronze declares the same. */
export const STAGING_META_COLUMNS = ['_rescued_data', '_batch_id', '_source_file'] as const;

/**
 * The staged CSV's columns, in order: the contract's, the derived ones (keyed hashes, masks), the stream position
 * (events), then the metadata.
 */
export function stagingColumns(contract: DataContract): string[] {
  return [
    ...contract.columns,
    ...contract.derivedColumns,
    ...contract.streamColumns,
    ...STAGING_META_COLUMNS,
  ];
}

/**
 * What a batch's staged rows share: the contract, the PII key, which cells never need quotes (declared columns of a
 * type other than text, keyed hashes), and `suffix`, the batch id and source file cells with the line end (UTF-8).
 */
export interface StagedRowFormat {
  contract: DataContract;
  piiHashKey: string | undefined;
  plainColumns: readonly boolean[];
  plainDerived: readonly boolean[];
  suffix: Uint8Array;
}

/** A batch's staged row format (see writeStagedRow), made once per batch. */
export function stagedRowFormat(
  contract: DataContract,
  meta: { batchId: string; sourceFile: string; piiHashKey: string | undefined },
): StagedRowFormat {
  return {
    contract,
    piiHashKey: meta.piiHashKey,
    plainColumns: contract.specs.map((column) => column.type !== 'text'),
    plainDerived: contract.specs.flatMap((column) =>
      (column.derived ?? []).map((derived) => derived.kind === 'hmac'),
    ),
    suffix: Buffer.from(`${csvField(meta.batchId)},${csvField(meta.sourceFile)}\n`),
  };
}

/**
 * Writes a passing record's staged row into the staging object's bytes, its cells in stagingColumns order: its
 * values, their derived columns (hashed with the PII key, here and never in SQL), its stream position, its
 * undeclared fields with personal data masked, then the batch id and source file. Only text can need quotes: a
 * value that passed any other type's check is digits, signs, points, colons, letters of a timestamp or a boolean,
 * or a hash's hex (the stream position passed the same checks). A promise to await only when a chunk went out and
 * the object pushes back.
 */
export function writeStagedRow(
  staging: StagedCsvWriter,
  format: StagedRowFormat,
  verdict: ContractVerdict,
  record: RawRecord,
): Promise<void> | undefined {
  const { plainColumns, plainDerived } = format;
  const { values } = verdict;
  for (let index = 0; index < values.length; index += 1)
    staging.cell(values[index] ?? null, !plainColumns[index]);
  const derived = format.contract.derive(values, format.piiHashKey);
  for (let index = 0; index < derived.length; index += 1)
    staging.cell(derived[index] ?? null, !plainDerived[index]);
  const { stream } = record;
  for (let index = 0; index < stream.length; index += 1) staging.cell(stream[index] as string, false);
  staging.cell(verdict.rescued ? JSON.stringify(maskRescued(verdict.rescued)) : null, true);
  staging.bytes(format.suffix);
  return staging.endRow();
}

/** A staged CSV object at `key` in the lake, its header (stagingColumns) written. */
export function openStagedObject(lake: ObjectStore, key: string, contract: DataContract): StagedCsvWriter {
  const staging = new StagedCsvWriter(new ObjectWriter(lake, key, 'text/csv'));
  staging.bytes(Buffer.from(csvLine(stagingColumns(contract))));
  return staging;
}

/**
 * The per-record contract check shared by the `validate` job and the stream service: every record either passes
 * (a staging CSV line, undeclared fields kept in `_rescued_data`) or is quarantined with every reason. Writes the
 * staging and quarantine objects; `onInvalid` sees each failing record (the service dead-letters them). Throws
 * when rows in != staged + quarantined (invariant 1).
 */
export async function validateRecords(
  lake: ObjectStore,
  contract: DataContract,
  target: ValidationTarget,
  records: RawRecords | AsyncIterable<RawRecord> | Iterable<RawRecord>,
  options: ValidationOptions = {},
): Promise<ValidationOutcome> {
  const { onInvalid, check: checkOptions = {} } = options;
  const stagedKey = lakeKey('staging', target.source, target.ingestionDate, target.batchId, 'csv');
  const quarantineKey = lakeKey('quarantine', target.source, target.ingestionDate, target.batchId, 'ndjson');
  const staging = openStagedObject(lake, stagedKey, contract);
  // Set by take() below: declared wider than its initial value for the checks after the loop.
  let quarantine = null as ObjectWriter | null;
  const result: ValidationOutcome = {
    batchId: target.batchId,
    source: target.source,
    rowsIn: 0,
    staged: 0,
    quarantined: 0,
    rescued: 0,
    reasons: new Map(),
    stagedKey,
    quarantineKey: null,
  };
  const format = stagedRowFormat(contract, {
    batchId: target.batchId,
    sourceFile: target.rawKey,
    piiHashKey: options.piiHashKey,
  });
  /** One record to staging or quarantine; a promise only when a writer pushes back. */
  const take = (record: RawRecord): Promise<void> | undefined => {
    result.rowsIn += 1;
    const verdict = judge(contract, record, checkOptions);
    if (verdict.reasons.length === 0) {
      if (verdict.rescued) result.rescued += 1;
      result.staged += 1;
      return writeStagedRow(staging, format, verdict, record);
    }
    quarantine ??= new ObjectWriter(lake, quarantineKey, 'application/x-ndjson');
    const pushedBack = quarantine.write(
      `${JSON.stringify({
        batch_id: target.batchId,
        source: target.source,
        source_file: target.rawKey,
        row_number: record.rowNumber,
        reasons: verdict.reasons,
        record: record.original,
        ...(record.envelope ? { message: record.envelope } : {}),
      })}\n`,
    );
    result.quarantined += 1;
    for (const reason of verdict.reasons) result.reasons.set(reason, (result.reasons.get(reason) ?? 0) + 1);
    onInvalid?.(record, verdict.reasons);
    return pushedBack;
  };
  try {
    if ('chunks' in records) {
      for await (const chunk of records.chunks())
        for (const record of chunk) {
          const pushedBack = take(record);
          if (pushedBack) await pushedBack;
        }
    } else {
      for await (const record of records) {
        const pushedBack = take(record);
        if (pushedBack) await pushedBack;
      }
    }
    await staging.finish();
    if (quarantine) await quarantine.finish();
    else if (options.replacesQuarantine)
      await lake.put(quarantineKey, '', { contentType: 'application/x-ndjson' });
  } catch (error) {
    staging.abort(error);
    quarantine?.abort(error);
    throw error;
  }
  if (result.rowsIn !== result.staged + result.quarantined) {
    throw new BatchDataError(
      `batch ${target.batchId}: rows do not reconcile (read ${result.rowsIn}, ` +
        `staged ${result.staged} + quarantined ${result.quarantined})`,
    );
  }
  result.quarantineKey = quarantine ? quarantineKey : null;
  return result;
}

/** How a batch is validated: the contract check's clock and windows, and who hears of each failing record. */
export interface ValidationOptions {
  check?: CheckOptions;
  /** Sees each failing record (the stream service dead-letters them). */
  onInvalid?: (record: RawRecord, reasons: string[]) => void;
  /** The PII hash key (secret store), for the contracts that derive keyed hashes. */
  piiHashKey?: string;
  /**
   * The batch was validated before with rows quarantined (the ledger names a quarantine object): when nothing is
   * quarantined now, that object is overwritten with an empty one, so no stale rows stay behind for a rebuild to
   * count (without a delete: invariant 10).
   */
  replacesQuarantine?: boolean;
}

/**
 * Streams text into one lake object with backpressure, gathering small writes into chunks of about 256 KiB (fewer
 * writes to the store); the object appears whole when finish() resolves, and not at all after abort().
 */
export class ObjectWriter {
  readonly #body = new PassThrough();
  readonly #done: Promise<unknown>;
  /** Joined once per chunk: grown by `+=`, the chunk was a tree of every line's pieces to flatten when written. */
  #pending: string[] = [];
  #pendingChars = 0;

  constructor(lake: ObjectStore, key: string, contentType: string) {
    this.#done = lake.put(key, this.#body, { contentType });
    this.#done.catch(() => this.#body.destroy());
  }

  /**
   * Adds text; returns a promise to await only when a chunk went out and the body pushes back (undefined
   * otherwise), so the per-row path costs no promise.
   */
  write(text: string): Promise<void> | undefined {
    this.#pending.push(text);
    this.#pendingChars += text.length;
    return this.#pendingChars >= WRITE_CHUNK_CHARS ? this.#flush() : undefined;
  }

  /** Sends bytes as they are (after the text written before them); a promise only when the body pushes back. */
  writeBytes(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#pendingChars > 0) this.#body.write(this.#takePending());
    return this.#body.write(bytes) ? undefined : this.#drained();
  }

  async finish(): Promise<void> {
    await this.#flush();
    this.#body.end();
    await this.#done;
  }

  /** Gives up the object: the store sees a failed upload and keeps whatever was there before. */
  abort(error: unknown): void {
    // The store may not be reading the body yet (a small object that fails at once): without a listener of its
    // own, the error would be an uncaught exception that takes the process down.
    this.#body.on('error', () => {});
    this.#body.destroy(error instanceof Error ? error : new Error(String(error)));
    this.#done.catch(() => {});
  }

  async #flush(): Promise<void> {
    if (this.#pendingChars === 0) return;
    if (!this.#body.write(this.#takePending())) await this.#drained();
  }

  #takePending(): string {
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingChars = 0;
    return chunk;
  }

  async #drained(): Promise<void> {
    await Promise.race([once(this.#body, 'drain'), this.#done]);
  }
}

/**
 * A staged CSV object's rows built as UTF-8 bytes in place, a chunk at a time: each short cell's characters are
 * copied into one buffer, and a long cell, or one that needs quotes or holds a character beyond ASCII, goes
 * through csvField and Buffer.write. Joining each row's cells into a line, the lines into a chunk and encoding the
 * chunk cost three copies and a string per row: at scale 20 the events' staged rows took 1.0 of their 5.4 CPU-s
 * so, 0.7 in place.
 */
export class StagedCsvWriter {
  readonly #object: ObjectWriter;
  #bytes = Buffer.allocUnsafe(STAGED_BUFFER_BYTES);
  #at = 0;

  constructor(object: ObjectWriter) {
    this.#object = object;
  }

  /** One cell and the comma after it; `quotable` for text, which may need quotes (csvField). */
  cell(value: string | null, quotable: boolean): void {
    if (value !== null && value.length > SHORT_CELL) {
      this.#encoded(quotable ? csvField(value) : value);
      return;
    }
    if (value !== null) {
      this.#room(value.length + 2);
      const bytes = this.#bytes;
      const start = this.#at;
      let at = start;
      for (let index = 0; index < value.length; index += 1) {
        const code = value.charCodeAt(index);
        if (code > 0x7e || (quotable && (code === QUOTE || code === COMMA || code === CR || code === LF))) {
          this.#at = start;
          this.#encoded(quotable ? csvField(value) : value);
          return;
        }
        bytes[at++] = code;
      }
      if (at === start && quotable) {
        bytes[at++] = QUOTE;
        bytes[at++] = QUOTE;
      }
      this.#at = at;
    }
    this.#room(1);
    this.#bytes[this.#at++] = COMMA;
  }

  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#bytes.set(bytes, this.#at);
    this.#at += bytes.length;
  }

  /** After a row: a promise to await only when a chunk went out and the object pushes back. */
  endRow(): Promise<void> | undefined {
    return this.#at >= STAGED_CHUNK_BYTES ? this.#object.writeBytes(this.#take()) : undefined;
  }

  async finish(): Promise<void> {
    if (this.#at > 0) await this.#object.writeBytes(this.#take());
    await this.#object.finish();
  }

  abort(error: unknown): void {
    this.#object.abort(error);
  }

  /** The text cell (with its comma) through Buffer.write: long, quoted, or beyond ASCII. */
  #encoded(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a pair of them, 4).
    this.#room(text.length * 3 + 1);
    this.#at += this.#bytes.write(text, this.#at);
    this.#bytes[this.#at++] = COMMA;
  }

  /** The bytes so far; the body keeps them, so the next row goes to a new buffer. */
  #take(): Buffer {
    const taken = this.#bytes.subarray(0, this.#at);
    this.#bytes = Buffer.allocUnsafe(STAGED_BUFFER_BYTES);
    this.#at = 0;
    return taken;
  }

  /** Grows the buffer (a row longer than its room) to hold `length` more bytes. */
  #room(length: number): void {
    if (this.#at + length <= this.#bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#bytes.length * 2, this.#at + length));
    this.#bytes.copy(grown, 0, 0, this.#at);
    this.#bytes = grown;
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
/** A chunk goes out once a row ends past this; the buffer has room for a typical row beyond it. */
const STAGED_CHUNK_BYTES = 256 * 1024;
const STAGED_BUFFER_BYTES = STAGED_CHUNK_BYTES + 64 * 1024;
/**
 * Cells up to this length are copied a character at a time; longer ones (UUIDs, hashes, timestamps) by
 * Buffer.write, whose call costs about what copying 24 characters does (~75 ns for a 64-character hash, ~170 by
 * the loop).
 */
const SHORT_CELL = 24;

const WRITE_CHUNK_CHARS = 256 * 1024;
