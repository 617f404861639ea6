import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { type PipelineResult, runPipeline } from '../jobs/run/index.ts';
import { printPipelineSummary } from '../jobs/run/summary.ts';
import { type EmbeddedPlatform, goldHashes, openEmbeddedPlatform, seedPlatform } from './harness.ts';

/**
 * A warehouse whose statements matching `matches` fail like a dropped connection (SQLSTATE 08006, an outage) while
 * `failing()` says so: what a restarted or overloaded server looks like to the jobs.
 */
function withOutages(db: SqlDatabase, matches: RegExp, failing: () => boolean): SqlDatabase {
  const check = (sql: string) => {
    if (matches.test(sql) && failing())
      throw Object.assign(new Error('connection terminated unexpectedly (injected outage)'), {
        code: '08006',
      });
  };
  return {
    url: db.url,
    dialect: db.dialect,
    concurrency: db.concurrency,
    async query(sql, params) {
      check(sql);
      return db.query(sql, params);
    },
    async exec(sql) {
      check(sql);
      return db.exec(sql);
    },
    transaction: (fn) => db.transaction((tx) => fn(withOutages(tx, matches, failing))),
    copyFromCsv: (table, columns, source) => db.copyFromCsv(table, columns, source),
    copyToCsv: (sql) => db.copyToCsv(sql),
    close: () => db.close(),
  };
}

/** A context on the platform's adapters but `warehouse` in place of its warehouse. */
function contextWith(
  platform: EmbeddedPlatform,
  warehouse: SqlDatabase,
  settings: Record<string, string> = {},
): JobContext {
  const config = loadConfig({
    LAKE_URL: `file://${platform.folder}/lake`,
    STREAM_URL: 'memory://',
    LOG_LEVEL: 'silent',
    ECOMM_DEMO: '1',
    ...settings,
  });
  return createJobContext(config, {
    shared: { lake: platform.lake, stream: platform.stream, source: platform.source, warehouse },
  });
}

/** Building a model writes its `__next` table first: the transform step's statements. */
const MODEL_BUILD = /__next/;

async function summaryOf(context: JobContext, result: PipelineResult): Promise<string[]> {
  const lines: string[] = [];
  await printPipelineSummary(context, result, (line) => lines.push(line));
  return lines;
}

/** The summary's rows table, quarantine and quality lines: what must not change when a run is resumed. */
function countsIn(summary: string[]): string[] {
  const from = summary.findIndex((line) => line.startsWith('Rows per source and layer'));
  const to = summary.findIndex((line) => line.startsWith('Headline KPIs'));
  return summary.slice(from, to).filter((line) => !/^\s+(FAIL|warn) /.test(line) || line.includes('rows'));
}

describe('ecomm run: step retries and resume', () => {
  let uninterrupted: EmbeddedPlatform;
  let resumed: EmbeddedPlatform;
  let retried: PipelineResult;
  let retriedSummary: string[];
  const waits: number[] = [];

  beforeAll(async () => {
    [uninterrupted, resumed] = await Promise.all([openEmbeddedPlatform(), openEmbeddedPlatform()]);
    await Promise.all([seedPlatform(uninterrupted), seedPlatform(resumed)]);
    let outages = 1;
    const context = contextWith(
      uninterrupted,
      withOutages(uninterrupted.warehouse, MODEL_BUILD, () => outages-- > 0),
    );
    retried = await runPipeline(context, { sleep: async (ms) => void waits.push(ms) });
    retriedSummary = await summaryOf(context, retried);
  });
  afterAll(async () => {
    await Promise.all([uninterrupted.close(), resumed.close()]);
  });

  it('retries a step that failed on an outage after its backoff, recording each attempt, and completes', async () => {
    expect(retried.ok).toBe(true);
    expect(waits).toEqual([10_000]);
    expect(retried.steps.find((step) => step.step === 'transform')?.attempts).toBe(2);
    const attempts = await uninterrupted.warehouse.query<{ status: string; message: string | null }>(
      "select status, message from ops.pipeline_runs where job = 'run' and step = 'transform' order by started_at",
    );
    expect(attempts).toEqual([
      {
        status: 'failed',
        message: expect.stringMatching(
          /^attempt 1 of 2 \(outage\), retrying in 10 s: model \S+ .*failed to build: .*injected outage/,
        ),
      },
      { status: 'succeeded', message: 'succeeded on attempt 2 of 2' },
    ]);
    expect(retriedSummary.join('\n')).toMatch(/transform \d+\.\ds \(2 attempts\)/);
  });

  it("prints each layer's totals as the warehouse holds them, the models' as the transform counted them", async () => {
    const db = uninterrupted.warehouse;
    const count = async (table: string) => {
      const [row] = await db.query<{ n: number }>(`select cast(count(*) as integer) as n from ${table}`);
      return (row?.n ?? 0).toLocaleString('en-US');
    };
    expect(retried.publishedRows.get('silver.orders')).toBeGreaterThan(0);
    for (const [source, table] of [
      ['orders', 'orders'],
      ['clickstream', 'clickstream_events'],
    ]) {
      const line = retriedSummary.find((candidate) => candidate.startsWith(`  ${source} `)) as string;
      const [bronze, silver] = line.trim().split(/\s+/).slice(-2);
      expect([bronze, silver]).toEqual([await count(`bronze.${table}`), await count(`silver.${table}`)]);
    }
    const gold = retriedSummary.find((line) => line.startsWith('  gold: ')) as string;
    expect(gold).toContain(`fact_orders ${await count('gold.fact_orders')}`);
    expect(gold).toContain(`dim_customers ${await count('gold.dim_customers')}`);
  });

  it('resumes a failed attempt of the same execution after its last completed step, to the same gold', async () => {
    let broken = true;
    const settings = { RUN_EXECUTION_ID: 'exec-2026-10-01T10' };
    const waited: number[] = [];
    const first = contextWith(
      resumed,
      withOutages(resumed.warehouse, MODEL_BUILD, () => broken),
      settings,
    );
    // The outage outlasts the step's retries: the attempt fails, as the cloud then sees it (exit 1).
    await expect(runPipeline(first, { sleep: async (ms) => void waited.push(ms) })).rejects.toThrow(
      /injected outage/,
    );
    expect(waited).toEqual([10_000]);
    broken = false;
    const second = contextWith(resumed, resumed.warehouse, settings);
    const result = await runPipeline(second);
    expect(result.ok).toBe(true);
    expect(result.resumedFrom).toBe(first.runId);
    expect(result.runIds).toEqual([second.runId, first.runId]);
    const skipped = result.steps.filter((step) => step.completedBy === first.runId).map((step) => step.step);
    expect(skipped).toEqual(['extract', 'stream-ingest', 'validate', 'load', 'reconcile', 'quality bronze']);
    expect(result.steps.find((step) => step.step === 'transform')).toMatchObject({ attempts: 1 });

    const rows = await resumed.warehouse.query<Record<string, unknown>>(
      `select run_id, status, execution_id, resumed_from_run_id from ops.pipeline_runs
       where job = 'run' and step = 'pipeline' order by started_at`,
    );
    expect(rows).toEqual([
      {
        run_id: first.runId,
        status: 'failed',
        execution_id: settings.RUN_EXECUTION_ID,
        resumed_from_run_id: null,
      },
      {
        run_id: second.runId,
        status: 'succeeded',
        execution_id: settings.RUN_EXECUTION_ID,
        resumed_from_run_id: first.runId,
      },
    ]);
    // The resumed run did not validate or load again: every batch was handled once, by the first attempt.
    const redone = await resumed.warehouse.query(
      "select job, step from ops.pipeline_runs where run_id = $1 and job in ('extract', 'validate', 'load')",
      [second.runId],
    );
    expect(redone).toEqual([]);

    expect(await goldHashes(resumed.warehouse)).toEqual(await goldHashes(uninterrupted.warehouse));
    // Its summary counts what the attempts did together: the same as the uninterrupted run's.
    const summary = await summaryOf(second, result);
    expect(summary.join('\n')).toContain(`resumed after the last completed step of run ${first.runId}`);
    expect(summary.join('\n')).toContain(`extract (done by ${first.runId})`);
    expect(countsIn(summary)).toEqual(countsIn(retriedSummary));
  });

  it('refuses `--resume` when the last run did not fail', async () => {
    const context = contextWith(resumed, resumed.warehouse);
    await expect(runPipeline(context, { resumeLastFailed: true })).rejects.toThrow(
      /^nothing to resume: the last run \S+ \(started \S+\) is succeeded, not failed or abandoned$/,
    );
  });
});
