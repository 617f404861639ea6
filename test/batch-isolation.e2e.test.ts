import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine } from '../adapters/csv.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { staticAlertRouter } from '../jobs/alerts/routing.ts';
import { type Receiver, startReceiver } from '../jobs/alerts/test-receiver.ts';
import { run as batchesJob } from '../jobs/batches/index.ts';
import { contractFor } from '../jobs/contracts/data-contracts.ts';
import { runExtract } from '../jobs/extract/index.ts';
import { applySourceChanges } from '../jobs/generate/index.ts';
import { heldBackLines } from '../jobs/ops/batch-failures.ts';
import { ledgerChecks } from '../jobs/quality/ledger-checks.ts';
import { type PipelineResult, runPipeline } from '../jobs/run/index.ts';
import { printPipelineSummary } from '../jobs/run/summary.ts';
import { runStreamIngest } from '../jobs/stream-ingest/index.ts';
import { runValidate } from '../jobs/validate/index.ts';
import { runWatchdog } from '../jobs/watchdog/index.ts';
import {
  type EmbeddedPlatform,
  goldHashes,
  openEmbeddedPlatform,
  openServerPlatform,
  type ServerPlatform,
  seedPlatform,
  TEST_AS_OF,
} from './harness.ts';

const PII_HASH_KEY = 'batch-isolation-key';

/** Runs `ecomm batches …` in-process and keeps what it printed. */
async function batches(
  platform: EmbeddedPlatform,
  options: Parameters<typeof batchesJob>[1],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await batchesJob(
    platform.context(),
    options,
    (line) => out.push(line),
    (line) => err.push(line),
  );
  return { code, out, err };
}

interface LedgerRow {
  batch_id: string;
  source: string;
  raw_key: string;
  staged_key: string | null;
}

async function ledger(db: SqlDatabase): Promise<LedgerRow[]> {
  return db.query<LedgerRow & Record<string, unknown>>(
    'select batch_id, source, raw_key, staged_key from ops.batches order by batch_id',
  );
}

describe('one bad batch never holds back the others (PostgreSQL, Kafka)', () => {
  let platform: ServerPlatform;
  let freshGold: Record<string, string>;
  let receiver: Receiver;
  let run: PipelineResult;
  const summary: string[] = [];
  let heldBack: string[];
  const path = (key: string) => join(platform.folder, 'lake', key);
  /** What each damaged object held, to repair it later. */
  const originals = new Map<string, Buffer>();
  const damage = (key: string, change: (bytes: Buffer) => Buffer | null) => {
    const bytes = readFileSync(path(key));
    originals.set(key, bytes);
    const changed = change(bytes);
    if (changed === null) rmSync(path(key));
    else writeFileSync(path(key), changed);
  };
  const batchOf = (rows: LedgerRow[], source: string) =>
    rows.find((row) => row.source === source) as LedgerRow;
  let truncatedTable: LedgerRow;
  let truncatedTopic: LedgerRow;
  let refusedBatch: LedgerRow;
  let lostStaged: LedgerRow;
  let refusedKey: string;

  beforeAll(async () => {
    process.env.PII_HASH_KEY = PII_HASH_KEY;
    receiver = await startReceiver();
    // The same input built with nothing broken: what gold must equal once every batch is in.
    const reference = await openEmbeddedPlatform();
    try {
      await seedPlatform(reference);
      expect((await runPipeline(reference.context())).blockedBy).toEqual([]);
      freshGold = await goldHashes(reference.warehouse);
    } finally {
      await reference.close();
    }

    platform = await openServerPlatform('isolation', {
      stream: 'kafka',
      settings: { OPENLINEAGE_URL: 'none' },
    });
    await seedPlatform(platform);
    const landing = platform.context();
    await runExtract(landing);
    await runStreamIngest(landing);
    const landed = await ledger(platform.warehouse);
    // A raw table CSV and a raw topic micro-batch cut in half, as an interrupted copy would leave them.
    truncatedTable = batchOf(landed, 'order_items');
    damage(truncatedTable.raw_key, (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)));
    truncatedTopic = batchOf(landed, 'clickstream');
    damage(truncatedTopic.raw_key, (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)));
    await runValidate(platform.context());

    const validated = await ledger(platform.warehouse);
    // A staged customers row with a city bronze's varchar(65535) refuses, and a staged products object gone.
    refusedBatch = batchOf(validated, 'customers');
    damage(refusedBatch.staged_key as string, (bytes) => {
      const [header, ...records] = parse(bytes, { relax_column_count: true }) as string[][];
      const city = (header as string[]).indexOf('city');
      const row = records[2] as string[];
      refusedKey = row[(header as string[]).indexOf('customer_id')] as string;
      row[city] = 'x'.repeat(70_000);
      return Buffer.from([header, ...records].map((cells) => csvLine(cells as string[])).join(''));
    });
    lostStaged = batchOf(validated, 'products');
    damage(lostStaged.staged_key as string, () => null);

    const runContext = platform.context();
    run = await runPipeline(runContext);
    await printPipelineSummary(runContext, run, (line) => summary.push(line));
    heldBack = await heldBackLines(runContext, 'load');
  }, 600_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await receiver?.close();
    await platform?.dispose();
  });

  it('holds back exactly the failed batches, each with its step and a reason naming what broke', async () => {
    const failed = await platform.warehouse.query<{
      batch_id: string;
      failed_step: string;
      failure_reason: string;
    }>(
      `select batch_id, failed_step, failure_reason from ops.batches where failed_at is not null
       order by batch_id`,
    );
    const reasonOf = (batch: LedgerRow) => failed.find((row) => row.batch_id === batch.batch_id);
    expect(failed).toHaveLength(4);
    expect(reasonOf(truncatedTable)?.failed_step).toBe('validate');
    expect(reasonOf(truncatedTable)?.failure_reason).toMatch(
      /rows do not reconcile|Quote Not Closed|Invalid/,
    );
    expect(reasonOf(truncatedTopic)).toMatchObject({ failed_step: 'validate' });
    expect(reasonOf(truncatedTopic)?.failure_reason).toMatch(
      /raw object .*\.ndjson\.zst is not valid zstd: unexpected end of file/,
    );
    // The load error names the table, the column, the batch and the row's key.
    const refused = reasonOf(refusedBatch)?.failure_reason ?? '';
    expect(reasonOf(refusedBatch)?.failed_step).toBe('load');
    // Customers land first in the restricted pii.customers (clear PII), which is where the row was refused.
    expect(refused).toContain('pii.customers');
    expect(refused).toContain('column city');
    expect(refused).toContain(`batch ${refusedBatch.batch_id}`);
    expect(refused).toContain(`key customer_id=${refusedKey}`);
    expect(refused).toContain('line 4 of staging/source=customers/');
    expect(refused).toMatch(/value too long for type character varying\(65535\)/);
    expect(refused).not.toContain('xxxxxxxxxx');
    expect(reasonOf(lostStaged)?.failed_step).toBe('load');
    expect(reasonOf(lostStaged)?.failure_reason).toMatch(/object not found: staging\/source=products\//);

    const runs = await platform.warehouse.query<{ job: string; batch_id: string }>(
      "select job, batch_id from ops.pipeline_runs where status = 'failed' order by job, batch_id",
    );
    expect(runs).toEqual(
      [
        { job: 'load', batch_id: refusedBatch.batch_id },
        { job: 'load', batch_id: lostStaged.batch_id },
        { job: 'validate', batch_id: truncatedTable.batch_id },
        { job: 'validate', batch_id: truncatedTopic.batch_id },
      ].sort((a, b) => `${a.job}${a.batch_id}`.localeCompare(`${b.job}${b.batch_id}`)),
    );
  });

  it('loads every other batch, reconciles them, and builds silver and gold from everything else', async () => {
    expect(run.ok).toBe(true);
    expect(run.blockedBy).toEqual([]);
    expect(run.failedBatches.map((batch) => batch.batch_id).sort()).toEqual(
      [refusedBatch.batch_id, lostStaged.batch_id].sort(),
    );
    const held = new Set([truncatedTable, truncatedTopic, refusedBatch, lostStaged].map((b) => b.batch_id));
    const states = await platform.warehouse.query<{ batch_id: string; loaded: boolean }>(
      'select batch_id, loaded_at is not null as loaded from ops.batches',
    );
    expect(states.length).toBeGreaterThan(held.size);
    for (const state of states) expect(state.loaded, state.batch_id).toBe(!held.has(state.batch_id));
    const count = async (table: string) =>
      (
        await platform.warehouse.query<{ n: number }>(`select cast(count(*) as integer) as n from ${table}`)
      )[0]?.n ?? 0;
    // The held-back table batches' rows are not in bronze; the key reconciliation found their keys missing from the
    // warehouse and re-extracted them from the source as repair batches, so those tables are whole anyway.
    for (const [table, held] of [
      ['customers', refusedBatch],
      ['products', lostStaged],
      ['order_items', truncatedTable],
    ] as const) {
      expect(await count(`bronze.${table} where _batch_id = '${held.batch_id}'`), table).toBe(0);
      expect(await count(`bronze.${table} where _batch_id like '${table}_repair_%'`), table).toBeGreaterThan(
        0,
      );
    }
    for (const table of ['orders', 'fx_rates', 'clickstream_events', 'order_events'])
      expect(await count(`bronze.${table}`), table).toBeGreaterThan(0);
    expect(await count('silver.orders')).toBeGreaterThan(0);
    expect(await count('silver.clickstream_events')).toBeGreaterThan(0);
    expect(await count('gold.fact_orders')).toBeGreaterThan(0);
    expect(await count('gold.agg_daily_sales')).toBeGreaterThan(0);
    const reconciliation = (await ledgerChecks(platform.warehouse, new Date())).filter(
      (finding) => finding.checkType === 'row_count_reconciliation',
    );
    expect(reconciliation.filter((finding) => !finding.passed)).toEqual([]);
  });

  it('completes the run (exit 0) and names the held-back batches in its summary', () => {
    const text = summary.join('\n');
    expect(text).toMatch(/Pipeline run [0-9a-f-]{36}: OK in/);
    expect(text).toContain('Failed batches held back: 2');
    expect(text).toContain(
      `${refusedBatch.batch_id} (customers) failed at load: pii.customers refused column city`,
    );
    expect(text).toContain(`${lostStaged.batch_id} (products) failed at load: batch ${lostStaged.batch_id}`);
    // What `ecomm load` prints after its loaded batches.
    expect(heldBack).toHaveLength(2);
    expect(heldBack).toContain(
      `load ${lostStaged.batch_id}: FAILED, held back (ecomm batches list): batch ${lostStaged.batch_id} into ` +
        `bronze.products: object not found: ${lostStaged.staged_key} in file://${platform.folder}/lake`,
    );
    expect(
      heldBack.find((line) => line.startsWith(`load ${refusedBatch.batch_id}: FAILED, held back`)),
    ).toMatch(/: pii\.customers refused column city of batch/);
  });

  it('lists each failure with its step and reason: ecomm batches list', async () => {
    const listed = await batches(platform, { action: 'list' });
    expect(listed.code).toBe(0);
    const text = listed.out.join('\n');
    for (const batch of [truncatedTable, truncatedTopic, refusedBatch, lostStaged])
      expect(text).toContain(batch.batch_id);
    expect(text).toMatch(/failed at validate: raw object .* is not valid zstd/);
    expect(text).toMatch(/failed at load: pii\.customers refused column city/);
    expect(text).toContain('ecomm batches retry --batch <id>');
    const pending = await batches(platform, { action: 'list', status: 'skipped' });
    expect(pending.out).toEqual(['no skipped batches']);
  });

  it('raises a finding and a paging incident per failed batch; the watchdog delivers the alerts', async () => {
    const findings = await platform.warehouse.query<{ check_id: string; status: string; details: string }>(
      "select check_id, status, details from ops.dq_findings where check_type = 'batch_failed' order by check_id",
    );
    expect(findings.map((finding) => finding.check_id)).toEqual(
      [truncatedTable, truncatedTopic, refusedBatch, lostStaged]
        .map((b) => `batch_failed:${b.batch_id}`)
        .sort(),
    );
    expect(findings.every((finding) => finding.status === 'fail')).toBe(true);
    const incidents = await platform.warehouse.query<{ check_id: string; severity: string }>(
      "select check_id, severity from ops.incidents where status = 'open' and check_type = 'batch_failed'",
    );
    expect(incidents).toHaveLength(4);
    expect(incidents.every((incident) => incident.severity === 'critical')).toBe(true);
    const queued = await platform.warehouse.query<{ n: number }>(
      "select cast(count(*) as integer) as n from ops.alert_deliveries where status = 'pending' and action = 'trigger'",
    );
    expect(queued[0]?.n).toBe(8); // PagerDuty and Slack for each

    const router = staticAlertRouter({
      slack: { webhookUrl: `${receiver.url}/slack/hook` },
      pagerduty: { eventsUrl: `${receiver.url}/v2/enqueue`, routingKey: 'test-routing-key' },
    });
    const watchdog = await runWatchdog(platform.context(), {
      router,
      tables: [],
      rules: [],
      gateLookbackHours: null,
    });
    expect(watchdog.deliveries.delivered).toBe(8);
    const slack = receiver.requests.filter((request) => request.path === '/slack/hook');
    expect(JSON.stringify(slack.map((request) => request.body))).toContain(
      `batch_failed:${refusedBatch.batch_id}`,
    );
  });

  it('refuses a retry or skip that does not fit the batch, with exit code 2 and a clear message', async () => {
    const loaded = (await ledger(platform.warehouse)).find((row) => row.source === 'orders') as LedgerRow;
    const retryLoaded = await batches(platform, { action: 'retry', batch: loaded.batch_id });
    expect(retryLoaded.code).toBe(2);
    expect(retryLoaded.err.join('\n')).toMatch(
      new RegExp(`batches retry: batch ${loaded.batch_id} is loaded, not failed: only a failed batch`),
    );
    const unknown = await batches(platform, { action: 'retry', batch: 'no-such-batch' });
    expect(unknown).toMatchObject({
      code: 2,
      err: ['ecomm: batches retry: no batch no-such-batch in the ledger (ops.batches)'],
    });
    const skipLoaded = await batches(platform, { action: 'skip', batch: loaded.batch_id, reason: 'why not' });
    expect(skipLoaded.code).toBe(2);
    expect(skipLoaded.err.join('\n')).toMatch(/is loaded: skip takes a failed or pending batch/);
    const noReason = await batches(platform, { action: 'skip', batch: lostStaged.batch_id, reason: ' ' });
    expect(noReason.code).toBe(2);
    const reloadFailed = await batches(platform, {
      action: 'reload',
      batch: lostStaged.batch_id,
      reason: 'why',
    });
    expect(reloadFailed.code).toBe(2);
    expect(reloadFailed.err.join('\n')).toMatch(/is failed, not loaded: reload is for a loaded batch/);
    const reloadNoReason = await batches(platform, { action: 'reload', batch: loaded.batch_id, reason: '' });
    expect(reloadNoReason.err).toEqual([
      'ecomm: batches reload: reload needs a --reason: the audit keeps why',
    ]);
    const [actions] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.batch_actions',
    );
    expect(actions?.n).toBe(0);
  });

  it('retry after repairing the objects brings every row in, resolves the incidents, and gold equals a fresh build', async () => {
    for (const [key, bytes] of originals)
      if (key.startsWith('raw/') || key === refusedBatch.staged_key) writeFileSync(path(key), bytes);
    // The lost staged object is not restored: retry stages the batch again from its raw object.
    for (const batch of [truncatedTable, truncatedTopic, refusedBatch, lostStaged]) {
      const retried = await batches(platform, { action: 'retry', batch: batch.batch_id });
      expect(retried.err).toEqual([]);
      expect(retried.code, retried.out.join('\n')).toBe(0);
      expect(retried.out.join('\n')).toMatch(new RegExp(`retry ${batch.batch_id}: loaded`));
    }
    const after = await runPipeline(platform.context());
    expect(after.ok).toBe(true);
    expect(after.failedBatches).toEqual([]);
    expect(await goldHashes(platform.warehouse)).toEqual(freshGold);

    const open = await platform.warehouse.query(
      "select check_id from ops.incidents where status = 'open' and check_type = 'batch_failed'",
    );
    expect(open).toEqual([]);
    const resolves = await platform.warehouse.query<{ n: number }>(
      "select cast(count(*) as integer) as n from ops.alert_deliveries where action = 'resolve'",
    );
    expect(resolves[0]?.n).toBe(8);
    const audit = await platform.warehouse.query<{
      batch_id: string;
      previous_status: string;
      previous_step: string;
    }>(
      "select batch_id, previous_status, previous_step from ops.batch_actions where action = 'retry' order by batch_id",
    );
    expect(audit).toHaveLength(4);
    expect(audit.every((row) => row.previous_status === 'failed')).toBe(true);
    const reconciliation = (await ledgerChecks(platform.warehouse, new Date())).filter(
      (finding) => finding.checkType === 'row_count_reconciliation',
    );
    expect(reconciliation.filter((finding) => !finding.passed)).toEqual([]);
  });

  it('skip takes a batch out of every queue for good, audited, and the next run completes', async () => {
    await applySourceChanges(platform.source, {
      seed: 5,
      at: new Date(TEST_AS_OF.getTime() + 3_600_000),
      customers: 5,
      products: 0,
      orders: 0,
    });
    await runExtract(platform.context());
    const [changed] = await platform.warehouse.query<LedgerRow & Record<string, unknown>>(
      `select batch_id, source, raw_key, staged_key from ops.batches
       where source = 'customers' and validated_at is null`,
    );
    expect(changed).toBeDefined();
    const batch = changed as LedgerRow;
    writeFileSync(path(batch.raw_key), readFileSync(path(batch.raw_key)).subarray(0, 40));
    const failedRun = await runPipeline(platform.context());
    expect(failedRun.ok).toBe(true);
    expect(failedRun.failedBatches.map((failed) => failed.batch_id)).toEqual([batch.batch_id]);

    const skipped = await batches(platform, {
      action: 'skip',
      batch: batch.batch_id,
      reason: 'raw object lost; the rows come again with the next change',
    });
    expect(skipped.code).toBe(0);
    expect(skipped.out.join('\n')).toMatch(/skipped .* \(was failed\)/);
    const [audit] = await platform.warehouse.query(
      `select action, previous_status, previous_step, reason, run_id is not null as has_run
       from ops.batch_actions where batch_id = $1`,
      [batch.batch_id],
    );
    expect(audit).toEqual({
      action: 'skip',
      previous_status: 'failed',
      previous_step: 'validate',
      reason: 'raw object lost; the rows come again with the next change',
      has_run: true,
    });
    const [incident] = await platform.warehouse.query<{ status: string }>(
      'select status from ops.incidents where check_id = $1',
      [`batch_failed:${batch.batch_id}`],
    );
    expect(incident?.status).toBe('resolved');
    expect((await batches(platform, { action: 'retry', batch: batch.batch_id })).code).toBe(2);

    const next = await runPipeline(platform.context());
    expect(next.ok).toBe(true);
    expect(next.failedBatches).toEqual([]);
    const [state] = await platform.warehouse.query(
      'select skipped_at is not null as skipped, validated_at, loaded_at from ops.batches where batch_id = $1',
      [batch.batch_id],
    );
    expect(state).toEqual({ skipped: true, validated_at: null, loaded_at: null });
    const table = contractFor('customers').table;
    const [rows] = await platform.warehouse.query<{ n: number }>(
      `select cast(count(*) as integer) as n from bronze.${table} where _batch_id = $1`,
      [batch.batch_id],
    );
    expect(rows?.n).toBe(0);
    expect((await batches(platform, { action: 'list', status: 'skipped' })).out.join('\n')).toContain(
      `${batch.batch_id}  customers (table)  skipped`,
    );
  });
});
