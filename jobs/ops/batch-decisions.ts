/**
 * The lake's copy of the ledger's decisions about batches: a batch held back on its own data (failed) or taken out
 * for good by an operator (skipped) gets `decisions/<batch id>.json`; a retry overwrites it with a `cleared` one (no
 * job deletes in the lake: invariant 10), which reads as no decision. The warehouse's ledger
 * (ops.batches) stays the truth for the running platform; this copy is what `ecomm rebuild` reads so that a
 * warehouse rebuilt from the lake alone leaves out the same batches the live one does.
 *
 * Automatic failures are copied after the ledger committed (a failure the copy misses is mostly found again by
 * the rebuild, which validates, loads and builds the same objects); operator actions before it (the operator
 * reruns a command that failed, which rewrites the copy).
 */
import { text } from 'node:stream/consumers';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { decisionKey } from '../lake/layout.ts';
import type { BatchStep } from './batch-errors.ts';

export interface BatchDecision {
  batch_id: string;
  decision: 'failed' | 'skipped' | 'cleared';
  /** The step a failed batch failed at (a skipped one keeps the step it had failed at, if any). */
  step: BatchStep | null;
  reason: string;
  at: string;
  run_id: string | null;
}

export async function recordBatchDecision(
  lake: ObjectStore,
  decision: Omit<BatchDecision, 'at'> & { at: Date },
): Promise<void> {
  const body: BatchDecision = {
    ...decision,
    reason: decision.reason.slice(0, 4000),
    at: decision.at.toISOString(),
  };
  await lake.put(decisionKey(decision.batch_id), `${JSON.stringify(body)}\n`, {
    contentType: 'application/json',
  });
}

/** A retried batch is back in the flow: a `cleared` decision supersedes the one it had. */
export async function clearBatchDecision(
  lake: ObjectStore,
  batchId: string,
  run: { at: Date; runId: string | null },
): Promise<void> {
  await recordBatchDecision(lake, {
    batch_id: batchId,
    decision: 'cleared',
    step: null,
    reason: 'back in the flow',
    at: run.at,
    run_id: run.runId,
  });
}

/** Every standing decision in the lake (a cleared one is none), by batch id. */
export async function readBatchDecisions(lake: ObjectStore): Promise<Map<string, BatchDecision>> {
  const decisions = new Map<string, BatchDecision>();
  for await (const object of lake.list('decisions/')) {
    const decision = JSON.parse(await text(await lake.get(object.key))) as BatchDecision;
    if (decision.decision !== 'cleared') decisions.set(decision.batch_id, decision);
  }
  return decisions;
}
