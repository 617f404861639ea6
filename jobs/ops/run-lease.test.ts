import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { loadConfig } from '../config.ts';
import { createJobContext, type JobContext, JobStoppedError } from '../context.ts';
import { loadJobStatuses } from '../monitor/queries.ts';
import { loadRunHistory } from '../monitor/run-queries.ts';
import { abandonedRunsCheck } from '../watchdog/abandoned-runs.ts';
import { RUN_ROW, startRunRow } from './pipeline-runs.ts';
import {
  LEASE_LOST,
  PIPELINE_LEASE,
  RunLeaseHeldError,
  releaseLease,
  renewLease,
  tryAcquireLease,
  withRunLease,
} from './run-lease.ts';
import { ensureWarehouseSchema } from './warehouse-schema.ts';

const T0 = new Date('2026-10-01T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** A context on the shared warehouse with its own run id and clock. */
function contextOn(
  warehouse: SqlDatabase,
  runId: string,
  now: () => Date,
  settings: Record<string, string> = {},
): JobContext {
  const config = loadConfig({ LOG_LEVEL: 'silent', RUN_LEASE_SECONDS: '30', ...settings });
  return createJobContext(config, { runId, now, shared: { warehouse } });
}

const engines = warehouseEngines('lease');

describe.each(engines)('the batch lease on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dispose } = await open());
    await ensureWarehouseSchema(db);
  });
  afterAll(async () => {
    await dispose();
  });
  const request = (runId: string, now: Date, executionId: string | null = null) => ({
    name: PIPELINE_LEASE,
    runId,
    job: 'run',
    executionId,
    now,
    expirySeconds: 30,
  });

  it('lets one holder in, names it to the next, and takes over only once it has expired', async () => {
    await db.exec('delete from ops.run_leases; delete from ops.pipeline_runs');
    expect(await tryAcquireLease(db, request('run-a', T0))).toMatchObject({
      acquired: true,
      tookOverFrom: null,
    });
    await startRunRow(db, {
      runId: 'run-a',
      ...RUN_ROW,
      startedAt: T0,
      executionId: null,
      resumedFromRunId: null,
    });
    expect((await loadRunHistory(db)).map((run) => [run.runId, run.state])).toEqual([['run-a', 'running']]);
    const refused = await tryAcquireLease(db, request('run-b', at(10)));
    expect(refused).toMatchObject({ acquired: false, holder: { runId: 'run-a', job: 'run' } });
    // A heartbeat moves the expiry: 29 s after it, the lease is still held.
    expect(await renewLease(db, { ...request('run-a', at(20)) })).toEqual({ renewed: true });
    expect((await tryAcquireLease(db, request('run-b', at(49)))).acquired).toBe(false);
    const [row] = await db.query<{ heartbeat_at: unknown }>(
      "select heartbeat_at from ops.pipeline_runs where run_id = 'run-a'",
    );
    expect(new Date(row?.heartbeat_at as string)).toEqual(at(20));
    // Past the expiry the holder is dead: the next run takes over and marks its run row abandoned.
    const takeover = await tryAcquireLease(db, request('run-b', at(51)));
    expect(takeover).toMatchObject({ acquired: true, tookOverFrom: { runId: 'run-a' } });
    expect(takeover.acquired && takeover.abandoned.map((run) => run.runId)).toEqual(['run-a']);
    const [status] = await db.query<{ status: string; message: string }>(
      "select status, message from ops.pipeline_runs where run_id = 'run-a'",
    );
    expect(status?.status).toBe('abandoned');
    expect(status?.message).toContain(`no heartbeat since ${at(20).toISOString()}`);
    // The old holder finds out at its next heartbeat.
    expect(await renewLease(db, request('run-a', at(52)))).toMatchObject({
      renewed: false,
      holder: { runId: 'run-b' },
    });
    await releaseLease(db, PIPELINE_LEASE, 'run-a');
    expect((await tryAcquireLease(db, request('run-c', at(53)))).acquired).toBe(false);
    await releaseLease(db, PIPELINE_LEASE, 'run-b');
    expect((await tryAcquireLease(db, request('run-c', at(54)))).acquired).toBe(true);
  });

  it('hands the lease at once to the next attempt of the same execution (the previous one has ended)', async () => {
    await db.exec('delete from ops.run_leases');
    expect((await tryAcquireLease(db, request('attempt-1', T0, 'exec-7'))).acquired).toBe(true);
    expect((await tryAcquireLease(db, request('other', at(1), 'exec-8'))).acquired).toBe(false);
    expect(await tryAcquireLease(db, request('attempt-2', at(2), 'exec-7'))).toMatchObject({
      acquired: true,
      tookOverFrom: { runId: 'attempt-1' },
    });
  });

  it('lets exactly one of two contexts racing for the lease work; the other is told who holds it', async () => {
    await db.exec('delete from ops.run_leases');
    let working = 0;
    let overlapped = false;
    const job = (runId: string) =>
      withRunLease(
        contextOn(db, runId, () => new Date()),
        'load',
        async () => {
          working += 1;
          if (working > 1) overlapped = true;
          await new Promise((resolve) => setTimeout(resolve, 200));
          working -= 1;
          return runId;
        },
      );
    const outcomes = await Promise.allSettled([job('racer-1'), job('racer-2')]);
    expect(overlapped).toBe(false);
    const done = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(RunLeaseHeldError);
    const winner = (done[0] as PromiseFulfilledResult<string>).value;
    expect(refused[0].message).toMatch(
      new RegExp(`run ${winner} \\(ecomm load\\), started \\S+Z, last heartbeat \\S+Z, lease expires`),
    );
    // Released at the end: the next job gets it.
    expect(await db.query('select * from ops.run_leases')).toEqual([]);
  });

  it('waits up to RUN_LOCK_WAIT_SECONDS for the holder to finish, and releases the lease on failure too', async () => {
    await db.exec('delete from ops.run_leases');
    const order: string[] = [];
    const first = withRunLease(
      contextOn(db, 'first', () => new Date()),
      'run',
      async () => {
        order.push('first start');
        await new Promise((resolve) => setTimeout(resolve, 1500));
        order.push('first end');
        throw new Error('first failed');
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = withRunLease(
      contextOn(db, 'second', () => new Date(), { RUN_LOCK_WAIT_SECONDS: '10' }),
      'transform',
      async () => {
        order.push('second');
      },
    );
    await expect(first).rejects.toThrow('first failed');
    await second;
    expect(order).toEqual(['first start', 'first end', 'second']);
  });

  it('heartbeats while the work runs, and stops a holder whose lease was taken over', async () => {
    await db.exec('delete from ops.run_leases; delete from ops.pipeline_runs');
    // RUN_LEASE_SECONDS=3: a heartbeat every second.
    const context = contextOn(db, 'slow', () => new Date(), { RUN_LEASE_SECONDS: '3' });
    const started = new Date();
    const stopped = await withRunLease(context, 'run', async (leased) => {
      await startRunRow(db, {
        runId: 'slow',
        ...RUN_ROW,
        startedAt: started,
        executionId: null,
        resumedFromRunId: null,
      });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const [lease] = await db.query<{ heartbeat_at: unknown }>('select heartbeat_at from ops.run_leases');
      expect(new Date(lease?.heartbeat_at as string).getTime()).toBeGreaterThan(started.getTime() + 500);
      leased.throwIfStopping();
      // Another run takes the lease (as if this process had been paused past its expiry).
      await db.exec("update ops.run_leases set holder_run_id = 'usurper'");
      for (let waited = 0; waited < 40 && !leased.signal.aborted; waited += 1)
        await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        leased.throwIfStopping();
        return null;
      } catch (error) {
        return error;
      }
    });
    expect(stopped).toBeInstanceOf(JobStoppedError);
    expect((stopped as JobStoppedError).reason).toBe(`${LEASE_LOST} to run usurper`);
    // Its release does not free the usurper's lease.
    expect(await db.query('select holder_run_id from ops.run_leases')).toEqual([
      { holder_run_id: 'usurper' },
    ]);
  });

  it('the watchdog marks a dead run abandoned and fails its check until a run finishes', async () => {
    await db.exec('delete from ops.run_leases; delete from ops.pipeline_runs');
    await tryAcquireLease(db, request('dead', T0));
    await startRunRow(db, {
      runId: 'dead',
      ...RUN_ROW,
      startedAt: T0,
      executionId: null,
      resumedFromRunId: null,
    });
    expect((await abandonedRunsCheck(db, at(10), 30)).passed).toBe(true);
    const finding = await abandonedRunsCheck(db, at(60), 30);
    expect(finding).toMatchObject({ passed: false, severity: 'critical', owner: 'data-platform' });
    expect(finding.details).toContain('run dead (ecomm run');
    expect(finding.details).toContain('lease batch-pipeline still held by run dead');
    const [row] = await db.query<{ status: string }>(
      "select status from ops.pipeline_runs where run_id = 'dead'",
    );
    expect(row?.status).toBe('abandoned');
    // The monitor's run history and job status say so.
    expect((await loadRunHistory(db)).find((run) => run.runId === 'dead')?.state).toBe('abandoned');
    expect((await loadJobStatuses(db)).find((job) => job.job === 'run')).toMatchObject({
      runId: 'dead',
      state: 'abandoned',
    });
    await releaseLease(db, PIPELINE_LEASE, 'dead');
    expect((await abandonedRunsCheck(db, at(120), 30)).details).toContain(
      'the latest run dead was abandoned',
    );
  });
});
