/**
 * The audit of recovery operations (`ecomm backfill`, `ecomm rebuild`) in ops.operations: a row when one starts,
 * completed when it ends, so the monitor and an operator see who ran what, on which window or target, which batches
 * it wrote and how it ended.
 */
import { userInfo } from 'node:os';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';

export type OperationName = 'backfill' | 'rebuild';

export interface OperationOutcome {
  status: 'succeeded' | 'failed';
  batchIds: string[];
  message: string;
}

/**
 * Runs `work` audited: the start row first (so even a crash leaves a trace), then its outcome. A failure is recorded
 * and rethrown.
 */
export async function auditedOperation<T>(
  context: JobContext,
  db: SqlDatabase,
  operation: { name: OperationName; parameters: string },
  work: () => Promise<T>,
  outcomeOf: (result: T) => OperationOutcome,
): Promise<T> {
  await db.query(
    `insert into ops.operations (run_id, operation, actor, parameters, status, started_at)
     values ($1, $2, $3, $4, 'running', $5)`,
    [context.runId, operation.name, operatorName(), operation.parameters.slice(0, 4000), context.now()],
  );
  const finish = (outcome: OperationOutcome) =>
    db.query(
      `update ops.operations set status = $2, batch_ids = $3, message = $4, finished_at = $5
       where run_id = $1 and operation = $6`,
      [
        context.runId,
        outcome.status,
        outcome.batchIds.join(',').slice(0, 65000),
        outcome.message.slice(0, 4000),
        context.now(),
        operation.name,
      ],
    );
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await finish({ status: 'failed', batchIds: [], message: (error as Error)?.message ?? String(error) });
    throw error;
  }
  await finish(outcomeOf(result));
  return result;
}

export interface OperationRow {
  run_id: string;
  operation: OperationName;
  actor: string | null;
  parameters: string;
  status: string;
  batch_ids: string | null;
  message: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/** The latest operations, most recent first. */
export async function recentOperations(db: SqlDatabase, limit = 20): Promise<OperationRow[]> {
  return db.query<OperationRow & Record<string, unknown>>(
    `select run_id, operation, actor, parameters, status, batch_ids, message, started_at, finished_at
     from ops.operations order by started_at desc, run_id limit ${Math.max(1, Math.floor(limit))}`,
  );
}

/**
 * Who ran the tool, as far as the process knows (a container may have no user database). The login's USER is not
 * a setting but a fact about the process, recorded in the audit row, so it is read here and not in the config.
 */
export function operatorName(): string | null {
  try {
    return userInfo().username.slice(0, 128);
  } catch {
    return process.env.USER?.slice(0, 128) ?? null;
  }
}
