/**
 * The stream service's applier in a worker thread (see applier-host.ts): its own job context (lake, broker and
 * warehouse connections) from the same settings and run id. Messages in: `wake` (a batch was committed), `stop`
 * (SIGTERM: finish the round, writes in hand keep a short grace), `finish` (end after the round). Messages out:
 * `stats`, `error`, `done`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../../config.ts';
import { createJobContext } from '../../context.ts';
import { lineageOf } from '../../lineage/emitter.ts';
import { persistWithBackoff } from '../backpressure.ts';
import { newApplyStats, runApplier } from './applier.ts';
import type { ApplierMessage, ApplierWorkerData } from './applier-host.ts';
import { wakeLatch } from './applier-host.ts';

const port = parentPort;
if (!port) throw new Error('applier-worker.ts runs as a worker thread');
const data = workerData as ApplierWorkerData;
const signalled = new AbortController();
const finish = new AbortController();
const latch = wakeLatch();
const post = (message: ApplierMessage) => port.postMessage(message);

port.on('message', (message: { type: string; reason?: string }) => {
  if (message.type === 'wake') latch.wake();
  if (message.type === 'stop') {
    signalled.abort(message.reason ?? 'SIGTERM');
    finish.abort();
    latch.wake();
  }
  if (message.type === 'finish') {
    finish.abort();
    latch.wake();
  }
});

const context = createJobContext(loadConfig(data.env), { runId: data.runId, signal: signalled.signal });
// Its lineage steps belong to the service's run (the CLI's `stream-ingest` invocation, same run id).
lineageOf(context).parentJob = 'stream-ingest';
const stats = newApplyStats();
// Stats go out on a timer too: during an outage a round may wait for minutes, and /status must say so.
const ticker = setInterval(() => post({ type: 'stats', stats }), 250);
try {
  await runApplier(context, {
    stats,
    persist: persistWithBackoff({
      state: stats.backpressure,
      log: context.log.child({ stage: 'apply' }),
      signal: signalled.signal,
      maxDelayMs: context.config.STREAM_BACKOFF_MAX_MS,
      stopGraceMs: data.stopGraceMs,
    }),
    stop: finish.signal,
    nextWake: (idleMs) => (finish.signal.aborted ? Promise.resolve() : latch.nextWake(idleMs)),
    onStats: (current) => post({ type: 'stats', stats: current }),
  });
  post({ type: 'stats', stats });
} catch (error) {
  post({ type: 'stats', stats });
  post({ type: 'error', message: (error as Error).message, stopped: signalled.signal.aborted });
} finally {
  clearInterval(ticker);
  await context.close();
  post({ type: 'done' });
  port.close();
}
