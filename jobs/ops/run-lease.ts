/**
 * The warehouse's batch lease (ops.run_leases): one `ecomm run`, or one batch job run by hand (extract, validate,
 * load, reconcile, transform), works on a warehouse at a time. Two runs at once would both validate and load the
 * same pending batches and print summaries that disagree.
 *
 * Redshift has no advisory locks, no ON CONFLICT and no RETURNING, so the lease is a row taken in a transaction that
 * first locks the table (lockForWriteSql: writers queue behind each other), reads the row, then deletes and inserts
 * it. The holder renews it on a timer every third of RUN_LEASE_SECONDS; a lease past its expiry belongs to a holder
 * that died, and the next run takes it over, marking the dead run's row abandoned. A holder that finds its lease
 * taken (it was paused past the expiry) stops at the next unit of work.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { type JobContext, JobStoppedError } from '../context.ts';
import { type AbandonedRun, heartbeatRunRows, markAbandonedRuns } from './pipeline-runs.ts';

/** The one lease of a warehouse's batch pipeline. */
export const PIPELINE_LEASE = 'batch-pipeline';

/** Reasons a leased job is stopped for start with this (the CLI exits 75 on them, not 143). */
export const LEASE_LOST = 'run lease lost';

export interface LeaseHolder {
  runId: string;
  job: string;
  executionId: string | null;
  acquiredAt: Date;
  heartbeatAt: Date;
  expiresAt: Date;
}

/** Another run holds the lease and did not let go within RUN_LOCK_WAIT_SECONDS. */
export class RunLeaseHeldError extends Error {
  readonly holder: LeaseHolder;
  constructor(holder: LeaseHolder, waitedSeconds: number) {
    super(
      `another run holds this warehouse's batch lease: run ${holder.runId} (ecomm ${holder.job}), started ` +
        `${holder.acquiredAt.toISOString()}, last heartbeat ${holder.heartbeatAt.toISOString()}, lease expires ` +
        `${holder.expiresAt.toISOString()}; waited ${waitedSeconds} s (RUN_LOCK_WAIT_SECONDS). Nothing was done: ` +
        'try again once it has finished',
    );
    this.name = 'RunLeaseHeldError';
    this.holder = holder;
  }
}

export interface LeaseRequest {
  name: string;
  runId: string;
  job: string;
  executionId: string | null;
  now: Date;
  expirySeconds: number;
}

export type LeaseAttempt =
  | { acquired: true; tookOverFrom: LeaseHolder | null; abandoned: AbandonedRun[] }
  | { acquired: false; holder: LeaseHolder };

const expiryAfter = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000);

/** The lease's row, replaced: Redshift has no upsert. Heartbeat now, expiry a lease period later. */
async function writeHolder(tx: SqlDatabase, request: LeaseRequest, acquiredAt: Date): Promise<void> {
  await tx.query('delete from ops.run_leases where lease_name = $1', [request.name]);
  await tx.query(
    `insert into ops.run_leases (lease_name, holder_run_id, holder_job, holder_execution_id, acquired_at,
       heartbeat_at, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [
      request.name,
      request.runId,
      request.job,
      request.executionId,
      acquiredAt,
      request.now,
      expiryAfter(request.now, request.expirySeconds),
    ],
  );
}

async function readHolder(tx: SqlDatabase, name: string): Promise<LeaseHolder | null> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select holder_run_id, holder_job, holder_execution_id, acquired_at, heartbeat_at, expires_at
     from ops.run_leases where lease_name = $1`,
    [name],
  );
  if (!row) return null;
  return {
    runId: String(row.holder_run_id),
    job: String(row.holder_job),
    executionId: row.holder_execution_id === null ? null : String(row.holder_execution_id),
    acquiredAt: new Date(row.acquired_at as string),
    heartbeatAt: new Date(row.heartbeat_at as string),
    expiresAt: new Date(row.expires_at as string),
  };
}

/**
 * One try at the lease. Free when nobody holds it, when its expiry has passed, or when its holder is an earlier
 * attempt of the same scheduled execution (the cloud starts a retry only after the previous attempt's process ended,
 * so that holder is dead even if its lease has not expired yet). Taking it marks the run rows of dead runs abandoned.
 */
export async function tryAcquireLease(db: SqlDatabase, request: LeaseRequest): Promise<LeaseAttempt> {
  return db.transaction(async (tx) => {
    await tx.exec(lockForWriteSql('ops.run_leases', tx.dialect));
    const holder = await readHolder(tx, request.name);
    const free =
      holder === null ||
      holder.runId === request.runId ||
      holder.expiresAt.getTime() <= request.now.getTime() ||
      (request.executionId !== null && holder.executionId === request.executionId);
    if (!free) return { acquired: false, holder };
    await writeHolder(tx, request, request.now);
    const tookOverFrom = holder && holder.runId !== request.runId ? holder : null;
    const abandoned = await markAbandonedRuns(
      tx,
      request.now,
      request.expirySeconds,
      tookOverFrom?.runId ?? null,
    );
    return { acquired: true, tookOverFrom, abandoned };
  });
}

/** Renews the lease and the run's heartbeat; returns the run that holds it instead when it was lost. */
export async function renewLease(
  db: SqlDatabase,
  request: Omit<LeaseRequest, 'job' | 'executionId'>,
): Promise<{ renewed: true } | { renewed: false; holder: LeaseHolder | null }> {
  return db.transaction(async (tx) => {
    await tx.exec(lockForWriteSql('ops.run_leases', tx.dialect));
    const holder = await readHolder(tx, request.name);
    if (holder?.runId !== request.runId) return { renewed: false, holder };
    await tx.query(
      'update ops.run_leases set heartbeat_at = $3, expires_at = $4 where lease_name = $1 and holder_run_id = $2',
      [request.name, request.runId, request.now, expiryAfter(request.now, request.expirySeconds)],
    );
    await heartbeatRunRows(tx, request.runId, request.now);
    return { renewed: true };
  });
}

/**
 * A service's lease (named `service:<what>`): held while renewed, taken over once its holder stopped renewing it.
 * Unlike the batch lease it marks no run abandoned, and an expired one is no finding (a stopped service leaves it).
 * Returns whether `request.runId` holds it now.
 */
export async function holdServiceLease(db: SqlDatabase, request: LeaseRequest): Promise<boolean> {
  if (!request.name.startsWith(SERVICE_LEASE_PREFIX))
    throw new Error(`a service lease is named ${SERVICE_LEASE_PREFIX}<what>, not ${request.name}`);
  return db.transaction(async (tx) => {
    await tx.exec(lockForWriteSql('ops.run_leases', tx.dialect));
    const holder = await readHolder(tx, request.name);
    const mine = holder?.runId === request.runId;
    if (holder && !mine && holder.expiresAt.getTime() > request.now.getTime()) return false;
    await writeHolder(tx, request, mine && holder ? holder.acquiredAt : request.now);
    return true;
  });
}

export const SERVICE_LEASE_PREFIX = 'service:';

export async function releaseLease(db: SqlDatabase, name: string, runId: string): Promise<void> {
  await db.query('delete from ops.run_leases where lease_name = $1 and holder_run_id = $2', [name, runId]);
}

/** Leases whose expiry has passed while still held: their holder died without letting go (the watchdog reports them). */
export async function expiredLeases(db: SqlDatabase, now: Date): Promise<(LeaseHolder & { name: string })[]> {
  const rows = await db.query<{ lease_name: string }>(
    'select lease_name from ops.run_leases where expires_at < $1 and lease_name not like $2 order by lease_name',
    [now, `${SERVICE_LEASE_PREFIX}%`],
  );
  const leases: (LeaseHolder & { name: string })[] = [];
  for (const row of rows) {
    const holder = await readHolder(db, row.lease_name);
    if (holder) leases.push({ ...holder, name: row.lease_name });
  }
  return leases;
}

export interface RunLeaseOptions {
  /** Waits between tries while another run holds the lease; tests pass a fake. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Between two tries at a held lease. */
const POLL_MS = 1000;

/**
 * Runs `work` holding the warehouse's batch lease: waits up to RUN_LOCK_WAIT_SECONDS for it (then throws
 * RunLeaseHeldError naming the holder), renews it every third of RUN_LEASE_SECONDS while `work` runs, and releases
 * it at the end, on failure too. `work` gets a context whose stop signal also fires when the lease is lost, so the
 * job stops at its next unit of work (JobStoppedError, reason starting with LEASE_LOST).
 */
export async function withRunLease<T>(
  context: JobContext,
  job: string,
  work: (leased: JobContext) => Promise<T>,
  options: RunLeaseOptions = {},
): Promise<T> {
  const db = await context.warehouse();
  const log = context.log.child({ job, step: 'lease' });
  const expirySeconds = context.config.RUN_LEASE_SECONDS;
  const waitSeconds = context.config.RUN_LOCK_WAIT_SECONDS;
  const sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
  const request = {
    name: PIPELINE_LEASE,
    runId: context.runId,
    job,
    executionId: context.config.RUN_EXECUTION_ID ?? null,
    expirySeconds,
  };
  const waitStarted = performance.now();
  for (;;) {
    context.throwIfStopping();
    const attempt = await tryAcquireLease(db, { ...request, now: context.now() });
    if (attempt.acquired) {
      if (attempt.tookOverFrom)
        log.warn(
          { previousHolder: attempt.tookOverFrom },
          'took over a lease whose holder stopped renewing it',
        );
      for (const run of attempt.abandoned) log.warn({ abandoned: run }, 'marked a dead run abandoned');
      break;
    }
    const waitedMs = performance.now() - waitStarted;
    if (waitedMs >= waitSeconds * 1000)
      throw new RunLeaseHeldError(attempt.holder, Math.round(waitedMs / 1000));
    log.info({ holder: attempt.holder }, 'waiting for the run lease');
    await sleep(Math.min(POLL_MS, waitSeconds * 1000 - waitedMs), context.signal).catch((error: unknown) => {
      context.throwIfStopping();
      throw error;
    });
  }

  const lost = new AbortController();
  const signal = AbortSignal.any([context.signal, lost.signal]);
  const leased: JobContext = {
    ...context,
    signal,
    throwIfStopping() {
      if (signal.aborted) throw new JobStoppedError(String(signal.reason ?? 'signal'));
    },
  };
  let lastRenewed = performance.now();
  let renewing: Promise<void> | null = null;
  const renew = async () => {
    try {
      const renewal = await renewLease(db, { ...request, now: context.now() });
      if (renewal.renewed) {
        lastRenewed = performance.now();
        return;
      }
      log.error({ holder: renewal.holder }, 'the run lease was taken over: stopping');
      lost.abort(`${LEASE_LOST} to run ${renewal.holder?.runId ?? '(none: it was released)'}`);
    } catch (error) {
      // A warehouse blip: the next tick tries again; past the expiry another run may take the lease, so stop.
      log.warn({ err: error }, 'could not renew the run lease');
      if (performance.now() - lastRenewed > expirySeconds * 1000)
        lost.abort(`${LEASE_LOST}: not renewed for ${expirySeconds} s (${(error as Error).message})`);
    }
  };
  const timer = setInterval(
    () => {
      if (renewing || lost.signal.aborted) return;
      renewing = renew().finally(() => {
        renewing = null;
      });
    },
    Math.max(100, (expirySeconds * 1000) / 3),
  );
  timer.unref();
  try {
    return await work(leased);
  } finally {
    clearInterval(timer);
    await renewing;
    await releaseLease(db, PIPELINE_LEASE, context.runId).catch((error: unknown) =>
      log.warn({ err: error }, 'could not release the run lease: it expires by itself'),
    );
  }
}
