/**
 * Is a failure the batch's own fault, or the platform's? A batch whose data or object is bad (a truncated or corrupt
 * raw object, a missing staged object, rows that do not reconcile, a row the warehouse refuses) fails the same way
 * however often it is retried, so it is isolated: marked failed in the ledger while the other batches go on. An
 * outage (network, a database that is down or overloaded, throttling) is the platform's: the job fails as before
 * and its scheduler reruns it, or the stream service waits it out. Anything not recognised as the batch's fault is
 * treated as an outage, so an unexpected error never silently parks a good batch.
 */
import { networkErrorCode } from '../../adapters/retry.ts';
import { ObjectNotFoundError } from '../../adapters/storage/object-store.ts';
import { BulkLoadError } from '../../adapters/warehouse/sql-database.ts';
import { JobStoppedError } from './job-stopped.ts';

/** The step of a batch's journey that failed (the stream service's applier validates, loads and applies). */
export type BatchStep = 'validate' | 'load' | 'apply' | 'transform';
export const BATCH_STEPS: readonly BatchStep[] = ['validate', 'load', 'apply', 'transform'];

export type BatchErrorKind = 'data' | 'outage' | 'stopped';

/** The batch's own data or object is unusable; `batchId` says which batch when several were worked on at once. */
export class BatchDataError extends Error {
  readonly batchId: string | undefined;
  constructor(message: string, options: { cause?: unknown; batchId?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BatchDataError';
    this.batchId = options.batchId;
  }
}

/** SQLSTATE classes of a broken connection, missing resources, an operator intervention, a system error. */
const OUTAGE_SQLSTATE = /^(08|53|57|58|40)/;
/** SQLSTATE classes of bad data: data exceptions (22) and integrity constraint violations (23). */
const DATA_SQLSTATE = /^(22|23)/;
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** zlib and zstd decoding errors (Z_BUF_ERROR: truncated, Z_DATA_ERROR, ZSTD_error_*: corrupt). */
const DECODE_CODE = /^(Z_|ZSTD_)/;
/** csv-parse's errors about the text itself (CSV_QUOTE_NOT_CLOSED, CSV_INVALID_CLOSING_QUOTE, …). */
const CSV_CODE = /^CSV_/;

export function classifyBatchError(error: unknown): BatchErrorKind {
  for (const link of causeChain(error)) {
    const kind = classifyOne(link);
    if (kind) return kind;
  }
  return 'outage';
}

function classifyOne(error: unknown): BatchErrorKind | undefined {
  if (error instanceof JobStoppedError || (error instanceof Error && error.name === 'AbortError'))
    return 'stopped';
  if (networkErrorCode(error)) return 'outage';
  const code = (error as { code?: unknown }).code;
  const sqlstate = typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
  if (sqlstate && OUTAGE_SQLSTATE.test(sqlstate)) return 'outage';
  if (isThrottledOrServerError(error)) return 'outage';
  if (error instanceof BatchDataError || error instanceof ObjectNotFoundError) return 'data';
  if (error instanceof BulkLoadError) return 'data';
  if (sqlstate && DATA_SQLSTATE.test(sqlstate)) return 'data';
  if (typeof code === 'string' && (DECODE_CODE.test(code) || CSV_CODE.test(code))) return 'data';
  // Redshift reports every refused row of a COPY as XX000 pointing at stl_load_errors.
  if (/check 'stl_load_errors'/i.test(String((error as { message?: unknown }).message ?? ''))) return 'data';
  return undefined;
}

/** An HTTP 429 or 5xx answer of a cloud SDK (AWS `$metadata.httpStatusCode`, Azure `statusCode`). */
function isThrottledOrServerError(error: unknown): boolean {
  const status =
    (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode ??
    (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}

function* causeChain(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; current instanceof Object && depth < 6; depth += 1) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The batch a BatchDataError of the chain names, if any. */
export function failedBatchIdIn(error: unknown): string | undefined {
  for (const link of causeChain(error))
    if (link instanceof BatchDataError && link.batchId) return link.batchId;
  return undefined;
}
