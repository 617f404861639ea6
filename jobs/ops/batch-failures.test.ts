import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../test/harness.ts';
import { JobStoppedError } from '../context.ts';
import { BatchDataError } from './batch-errors.ts';
import { isolateBatchFailure, reportBatchFailures } from './batch-failures.ts';
import {
  batchState,
  clearBatchFailure,
  markBatchFailed,
  markBatchSkipped,
  markLoaded,
  registerBatch,
} from './batches.ts';

describe('failed batches: findings and incidents follow the ledger', () => {
  let platform: EmbeddedPlatform;
  beforeAll(async () => {
    platform = await openEmbeddedPlatform();
    await platform.context().warehouse(); // creates the ops tables
  });
  afterAll(async () => {
    await platform.close();
  });

  const at = new Date('2026-10-01T10:00:00Z');
  const run = (runId: string) => ({ runId, now: new Date(at.getTime() + 60_000) });
  const count = async (sql: string) =>
    Number((await platform.warehouse.query<{ n: number }>(sql))[0]?.n ?? 0);
  const register = (batchId: string, kind: 'table' | 'stream', source: string) =>
    registerBatch(platform.warehouse, {
      batchId,
      source,
      kind,
      ingestionDate: '2026-10-01',
      rawKey: `raw/source=${source}/ingestion_date=2026-10-01/${batchId}.csv`,
      rows: 3,
      at,
    });
  const incident = async (batchId: string) =>
    (
      await platform.warehouse.query<{ status: string; severity: string; owner: string }>(
        'select status, severity, owner from ops.incidents where check_id = $1',
        [`batch_failed:${batchId}`],
      )
    )[0];

  it('raises each failed batch once, resolves it when loaded or skipped, and leaves the other kind to its owner', async () => {
    const db = platform.warehouse;
    await register('orders_b', 'table', 'orders');
    await register('clicks_s', 'stream', 'clickstream');
    for (const batchId of ['orders_b', 'clicks_s'])
      await markBatchFailed(db, { batchId, step: 'validate', reason: 'truncated', at, runId: 'r1' });

    const first = await reportBatchFailures(db, run('r1'), 'batch');
    expect(first.raised.map((batch) => batch.batch_id)).toEqual(['orders_b']);
    expect(await incident('orders_b')).toEqual({
      status: 'open',
      severity: 'critical',
      owner: 'data-platform',
    });
    expect(await incident('clicks_s')).toBeUndefined();
    const findings = await count('select cast(count(*) as integer) as n from ops.dq_findings');
    expect(findings).toBe(1);
    // Nothing changed: nothing written.
    expect(await reportBatchFailures(db, run('r2'), 'batch')).toMatchObject({ raised: [], resolved: [] });
    expect(await count('select cast(count(*) as integer) as n from ops.dq_findings')).toBe(findings);
    expect((await reportBatchFailures(db, run('r3'), 'stream')).raised.map((b) => b.batch_id)).toEqual([
      'clicks_s',
    ]);

    // Retried but not processed yet: still open. Loaded: resolved, with a resolve alert per channel triggered.
    await clearBatchFailure(db, 'orders_b');
    expect((await reportBatchFailures(db, run('r4'), 'batch')).resolved).toEqual([]);
    await markLoaded(db, 'orders_b', 3, at);
    expect((await reportBatchFailures(db, run('r5'), 'batch')).resolved).toEqual(['orders_b']);
    expect((await incident('orders_b'))?.status).toBe('resolved');
    const [passed] = await db.query<{ status: string; details: string }>(
      "select status, details from ops.dq_findings where run_id = 'r5'",
    );
    expect(passed).toEqual({ status: 'pass', details: 'batch orders_b loaded after a retry' });
    expect(
      await count(
        "select cast(count(*) as integer) as n from ops.alert_deliveries where action = 'resolve' and route = 'data-platform'",
      ),
    ).toBe(2);

    // A skipped stream batch is the stream service's (or the operator tool's) to resolve.
    await markBatchSkipped(db, { batchId: 'clicks_s', reason: 'lost', at });
    expect((await reportBatchFailures(db, run('r6'), 'batch')).resolved).toEqual([]);
    expect((await reportBatchFailures(db, run('r7'))).resolved).toEqual(['clicks_s']);
    expect((await incident('clicks_s'))?.status).toBe('resolved');
  });

  it('isolates a batch only for its own data; an outage or a stop request is rethrown untouched', async () => {
    await register('orders_c', 'table', 'orders');
    const context = platform.context();
    const outage = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(isolateBatchFailure(context, 'orders_c', 'load', outage)).rejects.toBe(outage);
    const stop = new JobStoppedError('SIGTERM');
    await expect(isolateBatchFailure(context, 'orders_c', 'load', stop)).rejects.toBe(stop);
    expect((await batchState(platform.warehouse, 'orders_c'))?.status).toBe('pending');
    const failure = await isolateBatchFailure(
      context,
      'orders_c',
      'load',
      new BatchDataError('batch orders_c: loaded 2 rows into bronze.orders, staging holds 3'),
    );
    expect(failure).toMatchObject({ batchId: 'orders_c', step: 'load', runId: context.runId });
    expect(await batchState(platform.warehouse, 'orders_c')).toMatchObject({
      status: 'failed',
      failed_step: 'load',
      failure_reason: 'batch orders_c: loaded 2 rows into bronze.orders, staging holds 3',
      failed_run_id: context.runId,
    });
  });
});
