import { randomUUID } from 'node:crypto';
import type { JobContext } from '../context.ts';
import {
  type InputDataset,
  type OutputDataset,
  type RunEvent,
  type RunEventInput,
  runEvent,
} from './openlineage.ts';
import { lineageSettings } from './settings.ts';
import { httpLineageSink, type LineageSink, lakeLineageSink, NULL_LINEAGE_SINK } from './sink.ts';

/** One step of a job (an extract of one table, a model build): its datasets and how it ended. */
export interface StepLineage {
  /** Job name inside the namespace, e.g. `extract.orders`, `transform.gold.fact_orders`. */
  job: string;
  startedAt: Date;
  finishedAt: Date;
  inputs: InputDataset[];
  outputs: OutputDataset[];
  jobFacets?: RunEvent['job']['facets'];
  /** Set when the step failed: the events end with FAIL instead of COMPLETE. */
  error?: unknown;
}

/**
 * The lineage of one CLI invocation. Its run id is the context's run id (the one in logs, pipeline_runs,
 * dq_findings and alerts); each step is an OpenLineage run of its own (a fresh UUID: one run id must never
 * name two jobs) whose `parent` facet points back at that invocation, so every event of the invocation carries
 * the context's run id.
 */
export interface LineageEmitter {
  readonly namespace: string;
  readonly sink: LineageSink;
  /** The invocation's job name (`run`, `extract`, `watchdog`…): the parent of every step. Default `ecomm`. */
  parentJob: string;
  /** START then COMPLETE (or FAIL) of one step. Never throws: a lineage outage must not fail the data. */
  step(step: StepLineage): Promise<void>;
  /** Sends one event as is. Never throws. */
  emit(event: RunEvent): Promise<void>;
  /** Events that could not be written, for the caller's summary. */
  readonly failures: number;
}

const emitters = new WeakMap<JobContext, LineageEmitter>();

/** The context's lineage emitter, built from the settings on first use. */
export function lineageOf(context: JobContext): LineageEmitter {
  let emitter = emitters.get(context);
  if (!emitter) {
    emitter = createLineageEmitter(context, sinkFor(context));
    emitters.set(context, emitter);
  }
  return emitter;
}

/** Routes a context's lineage to the given sink (tests; a caller that wants the events in memory). */
export function useLineageSink(context: JobContext, sink: LineageSink): LineageEmitter {
  const emitter = createLineageEmitter(context, sink);
  emitters.set(context, emitter);
  return emitter;
}

function sinkFor(context: JobContext): LineageSink {
  const settings = lineageSettings(context.config);
  if (settings.OPENLINEAGE_URL === 'none') return NULL_LINEAGE_SINK;
  const lake = lakeLineageSink(() => context.lake());
  if (settings.OPENLINEAGE_URL === 'lake') return lake;
  let http: Promise<LineageSink> | undefined;
  return {
    kind: 'http',
    async emit(event, parentRunId) {
      http ??= context
        .secrets()
        .get('OPENLINEAGE_API_KEY')
        .catch(() => null)
        .then((apiKey) =>
          httpLineageSink({
            url: settings.OPENLINEAGE_URL,
            apiKey,
            signal: context.signal,
            log: context.log,
            fallback: lake,
          }),
        );
      await (await http).emit(event, parentRunId);
    },
  };
}

export function createLineageEmitter(context: JobContext, sink: LineageSink): LineageEmitter {
  const namespace = lineageSettings(context.config).OPENLINEAGE_NAMESPACE;
  let failures = 0;
  const emitter: LineageEmitter = {
    namespace,
    sink,
    parentJob: 'ecomm',
    get failures() {
      return failures;
    },
    async emit(event) {
      try {
        await sink.emit(event, context.runId);
      } catch (error) {
        failures += 1;
        context.log.warn(
          {
            job: 'lineage',
            step: event.job.name,
            eventType: event.eventType,
            error: (error as Error).message,
          },
          'lineage event not written',
        );
      }
    },
    async step(step) {
      const runId = randomUUID();
      const base: Omit<RunEventInput, 'eventType' | 'eventTime'> = {
        runId,
        job: { namespace, name: step.job },
        parent: { runId: context.runId, namespace, name: emitter.parentJob },
        jobFacets: step.jobFacets,
      };
      const names = (datasets: (InputDataset | OutputDataset)[]) =>
        datasets.map((dataset) => ({ namespace: dataset.namespace, name: dataset.name }));
      await emitter.emit(
        runEvent({
          ...base,
          eventType: 'START',
          eventTime: step.startedAt,
          inputs: names(step.inputs),
          outputs: names(step.outputs),
        }),
      );
      await emitter.emit(
        runEvent({
          ...base,
          eventType: step.error === undefined ? 'COMPLETE' : 'FAIL',
          eventTime: new Date(Math.max(step.finishedAt.getTime(), step.startedAt.getTime())),
          inputs: step.inputs,
          outputs: step.error === undefined ? step.outputs : names(step.outputs),
        }),
      );
    },
  };
  return emitter;
}

/**
 * Wraps a whole CLI job as the parent run (run id = the context's): START, then COMPLETE, or FAIL when it throws
 * or `failed(value)` says so (a blocking check). ABORT when stopped by a signal.
 */
export async function withLineageRun<T>(
  context: JobContext,
  job: string,
  work: () => Promise<T>,
  failed: (value: T) => boolean = () => false,
): Promise<T> {
  const emitter = lineageOf(context);
  emitter.parentJob = job;
  const event = (eventType: RunEvent['eventType']) =>
    runEvent({
      eventType,
      eventTime: context.now(),
      runId: context.runId,
      job: { namespace: emitter.namespace, name: job },
    });
  await emitter.emit(event('START'));
  try {
    const value = await work();
    await emitter.emit(event(failed(value) ? 'FAIL' : 'COMPLETE'));
    return value;
  } catch (error) {
    await emitter.emit(event(context.signal.aborted ? 'ABORT' : 'FAIL'));
    throw error;
  }
}
