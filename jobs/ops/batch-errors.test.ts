import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../adapters/storage/object-store.ts';
import { BulkLoadError } from '../../adapters/warehouse/sql-database.ts';
import { JobStoppedError } from '../context.ts';
import { BatchDataError, classifyBatchError, failedBatchIdIn } from './batch-errors.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
const object = { store: {} as never, key: 'staging/source=orders/x.csv' };

describe('classifyBatchError', () => {
  it("calls the batch's own data at fault: corrupt or truncated objects, missing objects, refused rows", () => {
    const data = [
      new BatchDataError('batch b: rows do not reconcile'),
      new ObjectNotFoundError('file:///lake', 'staging/source=orders/x.csv'),
      withCode('raw object raw/x.ndjson.zst is not valid Zstandard: unexpected end of file', 'Z_BUF_ERROR'),
      withCode('raw object raw/x.ndjson.gz is not valid gzip: incorrect header check', 'Z_DATA_ERROR'),
      withCode('Unknown frame descriptor', 'ZSTD_error_prefix_unknown'),
      withCode(
        'Quote Not Closed: the parsing is finished with an opening quote at line 7',
        'CSV_QUOTE_NOT_CLOSED',
      ),
      withCode('value too long for type character varying(65535)', '22001'),
      withCode('invalid input syntax for type integer: "abc"', '22P02'),
      withCode('null value in column "order_id" violates not-null constraint', '23502'),
      new BulkLoadError('value too long', { table: 'bronze.orders', object, line: 3, column: 'status' }),
      withCode("Load into table 'orders' failed. Check 'stl_load_errors' system table for details.", 'XX000'),
    ];
    for (const error of data) expect(classifyBatchError(error), error.message).toBe('data');
  });

  it('calls outages the platform’s: network, connection and resource SQLSTATEs, throttling and 5xx', () => {
    const outages = [
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      Object.assign(new Error('fetch failed'), { cause: withCode('socket hang up', 'ECONNRESET') }),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('too many connections for role', '53300'),
      withCode('could not write to file: No space left on device', '53100'),
      withCode('connection failure', '08006'),
      withCode('could not read block', '58030'),
      withCode('deadlock detected', '40P01'),
      Object.assign(new Error('SlowDown'), { $metadata: { httpStatusCode: 503 } }),
      Object.assign(new Error('Too Many Requests'), { $metadata: { httpStatusCode: 429 } }),
      Object.assign(new Error('ServerBusy'), { statusCode: 500 }),
    ];
    for (const error of outages) expect(classifyBatchError(error), error.message).toBe('outage');
  });

  it('treats an error it does not know as an outage, so an unexpected failure never parks a good batch', () => {
    expect(classifyBatchError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(
      'outage',
    );
    expect(classifyBatchError(withCode('permission denied for table orders', '42501'))).toBe('outage');
    expect(
      classifyBatchError(Object.assign(new Error('AccessDenied'), { $metadata: { httpStatusCode: 403 } })),
    ).toBe('outage');
    expect(classifyBatchError('a string')).toBe('outage');
    expect(classifyBatchError(undefined)).toBe('outage');
  });

  it('lets a stop request stop the job, even wrapped', () => {
    expect(classifyBatchError(new JobStoppedError('SIGTERM'))).toBe('stopped');
    const abort = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(classifyBatchError(abort)).toBe('stopped');
    expect(classifyBatchError(new Error('write failed', { cause: new JobStoppedError('SIGTERM') }))).toBe(
      'stopped',
    );
  });

  it('reads the cause chain: the first link that says wins', () => {
    const refused = withCode('value too long', '22001');
    expect(classifyBatchError(new Error('loading batch b', { cause: refused }))).toBe('data');
    const dropped = withCode('Connection terminated unexpectedly', '08006');
    expect(classifyBatchError(new BatchDataError('batch b', { cause: dropped }))).toBe('data');
    expect(classifyBatchError(new Error('outer', { cause: dropped }))).toBe('outage');
  });

  it('finds the batch a wrapped error names', () => {
    const named = new BatchDataError('batch b1 into bronze.orders: value too long', { batchId: 'b1' });
    expect(failedBatchIdIn(new Error('round failed', { cause: named }))).toBe('b1');
    expect(failedBatchIdIn(new BatchDataError('no batch named'))).toBeUndefined();
    expect(failedBatchIdIn(new Error('other'))).toBeUndefined();
  });
});
