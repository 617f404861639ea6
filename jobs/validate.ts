import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import type { JobContext } from './context.ts';
import { contractFor, type DataContract } from './contracts/data-contracts.ts';
import { csvLine } from './lake/csv.ts';
import { lakeKey } from './lake/layout.ts';
import { validateLineage } from './lineage/steps.ts';
import { type BatchRow, batchesAwaitingValidation, markValidated } from './ops/batches.ts';
import { recordRun } from './ops/pipeline-runs.ts';
import type { RawEnvelope } from './stream-ingest.ts';

/** Metadata columns validate appends to every staged row; bronze declares the same. */
export const STAGING_META_COLUMNS = ['_rescued_data', '_batch_id', '_source_file'] as const;

/** The staged CSV's columns, in order: the contract's, the stream position (events), then the metadata. */
export function stagingColumns(contract: DataContract): string[] {
  return [...contract.columns, ...contract.streamColumns, ...STAGING_META_COLUMNS];
}

export interface ValidatedBatch {
  batchId: string;
  source: string;
  rowsIn: number;
  staged: number;
  quarantined: number;
  rescued: number;
  reasons: Map<string, number>;
}

/** One record as read from raw: its 1-based row number, the fields, or why it could not even be read. */
interface RawRecord {
  rowNumber: number;
  fields: Record<string, unknown> | null;
  unreadable: string | null;
  original: unknown;
  /** Values of the contract's stream columns (events only). */
  stream: string[];
}

/**
 * Checks every raw batch not yet validated against its data contract: passing rows to staging/ (CSV ready for
 * COPY), failing rows to quarantine/ with every reason. Invariant 1 is enforced, not hoped for: a batch whose
 * rows in != staged + quarantined fails the job.
 */
export async function runValidate(context: JobContext): Promise<ValidatedBatch[]> {
  const warehouse = await context.warehouse();
  const results: ValidatedBatch[] = [];
  for (const batch of await batchesAwaitingValidation(warehouse)) {
    context.throwIfStopping();
    const startedAt = context.now();
    try {
      const result = await validateBatch(context, batch);
      results.push(result);
      await recordRun(warehouse, {
        runId: context.runId,
        job: 'validate',
        step: batch.source,
        batchId: batch.batch_id,
        status: 'succeeded',
        startedAt,
        finishedAt: context.now(),
        rowsIn: result.rowsIn,
        rowsOut: result.staged,
        rowsQuarantined: result.quarantined,
        message: result.rescued > 0 ? `${result.rescued} rows carried undeclared fields (rescued)` : null,
      });
      await validateLineage(context, batch, startedAt, result);
    } catch (error) {
      await recordRun(warehouse, {
        runId: context.runId,
        job: 'validate',
        step: batch.source,
        batchId: batch.batch_id,
        status: 'failed',
        startedAt,
        finishedAt: context.now(),
        message: (error as Error).message,
      });
      await validateLineage(context, batch, startedAt, null, error);
      throw error;
    }
  }
  return results;
}

async function validateBatch(context: JobContext, batch: BatchRow): Promise<ValidatedBatch> {
  const contract = contractFor(batch.source);
  const lake = context.lake();
  const stagedKey = lakeKey('staging', batch.source, batch.ingestion_date, batch.batch_id, 'csv');
  const quarantineKey = lakeKey('quarantine', batch.source, batch.ingestion_date, batch.batch_id, 'ndjson');
  const staging = new ObjectWriter(lake, stagedKey, 'text/csv');
  await staging.write(csvLine(stagingColumns(contract)));
  let quarantine: ObjectWriter | null = null;
  const result: ValidatedBatch = {
    batchId: batch.batch_id,
    source: batch.source,
    rowsIn: 0,
    staged: 0,
    quarantined: 0,
    rescued: 0,
    reasons: new Map(),
  };
  const raw = await lake.get(batch.raw_key);
  const records = contract.format === 'csv' ? readCsvRecords(raw) : readEnvelopeRecords(raw);
  for await (const record of records) {
    result.rowsIn += 1;
    const verdict = record.fields
      ? contract.check(record.fields)
      : { values: [], reasons: [record.unreadable ?? 'unreadable record'], rescued: null };
    if (verdict.reasons.length === 0) {
      if (verdict.rescued) result.rescued += 1;
      const rescued = verdict.rescued ? JSON.stringify(verdict.rescued) : null;
      await staging.write(
        csvLine([...verdict.values, ...record.stream, rescued, batch.batch_id, batch.raw_key]),
      );
      result.staged += 1;
      continue;
    }
    quarantine ??= new ObjectWriter(lake, quarantineKey, 'application/x-ndjson');
    await quarantine.write(
      `${JSON.stringify({
        batch_id: batch.batch_id,
        source: batch.source,
        source_file: batch.raw_key,
        row_number: record.rowNumber,
        reasons: verdict.reasons,
        record: record.original,
      })}\n`,
    );
    result.quarantined += 1;
    for (const reason of verdict.reasons) result.reasons.set(reason, (result.reasons.get(reason) ?? 0) + 1);
  }
  await staging.finish();
  if (quarantine) await quarantine.finish();
  else await lake.delete(quarantineKey); // a replay that now quarantines nothing must not leave an old file behind

  if (result.rowsIn !== batch.rows_raw || result.rowsIn !== result.staged + result.quarantined) {
    throw new Error(
      `batch ${batch.batch_id}: rows do not reconcile (ledger ${batch.rows_raw} raw, read ${result.rowsIn}, ` +
        `staged ${result.staged} + quarantined ${result.quarantined})`,
    );
  }
  const warehouse = await context.warehouse();
  await markValidated(warehouse, batch.batch_id, {
    stagedKey,
    quarantineKey: quarantine ? quarantineKey : null,
    staged: result.staged,
    quarantined: result.quarantined,
    rescued: result.rescued,
    at: context.now(),
  });
  context.log.info({ job: 'validate', ...result, reasons: undefined }, 'validated');
  return result;
}

/** CSV as PostgreSQL writes it: an unquoted empty cell is NULL, a quoted empty cell is the empty string. */
export async function* readCsvRecords(raw: Readable): AsyncGenerator<RawRecord> {
  const parser = raw.pipe(
    parse({
      cast: (value, context) => (value === '' && !context.quoting ? null : value),
      relax_column_count: true,
    }),
  );
  let header: string[] | null = null;
  let rowNumber = 0;
  for await (const cells of parser as AsyncIterable<(string | null)[]>) {
    if (!header) {
      header = cells.map((cell) => cell ?? '');
      continue;
    }
    rowNumber += 1;
    const fields: Record<string, unknown> = {};
    for (let index = 0; index < header.length; index += 1)
      fields[header[index] ?? `column_${index}`] = cells[index];
    if (cells.length !== header.length) {
      yield {
        rowNumber,
        fields: null,
        unreadable: `row has ${cells.length} cells, header has ${header.length}`,
        original: cells,
        stream: [],
      };
    } else {
      yield { rowNumber, fields, unreadable: null, original: fields, stream: [] };
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Raw event lines are envelopes written by stream-ingest; the event inside may be anything a producer sent. */
export async function* readEnvelopeRecords(raw: Readable): AsyncGenerator<RawRecord> {
  let rowNumber = 0;
  for await (const line of createInterface({ input: raw, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line === '') continue;
    rowNumber += 1;
    const envelope = JSON.parse(line) as RawEnvelope;
    yield parseEvent(rowNumber, envelope);
  }
}

function parseEvent(rowNumber: number, envelope: RawEnvelope): RawRecord {
  const stream = [
    String(envelope.partition),
    String(envelope.offset),
    new Date(envelope.timestamp).toISOString(),
  ];
  const unreadable = (reason: string, original: unknown): RawRecord => ({
    rowNumber,
    fields: null,
    unreadable: reason,
    original,
    stream,
  });
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
    event = JSON.parse(text);
  } catch (error) {
    return unreadable(`malformed JSON: ${(error as Error).message}`, original);
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return unreadable('event must be a JSON object', original);
  }
  return { rowNumber, fields: event as Record<string, unknown>, unreadable: null, original: event, stream };
}

/** Streams lines into one lake object with backpressure; the object appears whole when finish() resolves. */
class ObjectWriter {
  readonly #body = new PassThrough();
  readonly #done: Promise<unknown>;

  constructor(lake: ObjectStore, key: string, contentType: string) {
    this.#done = lake.put(key, this.#body, { contentType });
    this.#done.catch(() => this.#body.destroy());
  }

  async write(text: string): Promise<void> {
    if (!this.#body.write(text)) await Promise.race([once(this.#body, 'drain'), this.#done]);
  }

  async finish(): Promise<void> {
    this.#body.end();
    await this.#done;
  }
}

export type { DataContract };
