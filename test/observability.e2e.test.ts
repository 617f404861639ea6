/**
 * Observability end to end on the embedded platform: the OpenLineage events of a full run (valid against the
 * vendored 2-0-2 schema, linking source tables to gold), the watchdog quiet on clean data and firing on data
 * broken three ways with one alert per incident, and a quarantine replay after a contract fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverPendingAlerts } from '../jobs/alerts/deliveries.ts';
import { SEVERITY_CHANNELS, staticAlertRouter } from '../jobs/alerts/routing.ts';
import { type Receiver, startReceiver } from '../jobs/alerts/test-receiver.ts';
import type { JobContext } from '../jobs/context.ts';
import { contractFor, type DataContract } from '../jobs/contracts/data-contracts.ts';
import type { GenerateResult } from '../jobs/generate/index.ts';
import { sourceDataset, topicDatasetOf, warehouseDataset } from '../jobs/lineage/datasets.ts';
import { withLineageRun } from '../jobs/lineage/emitter.ts';
import { lineagePath, readLineageEvents } from '../jobs/lineage/graph.ts';
import type { RunEvent } from '../jobs/lineage/openlineage.ts';
import { createLineageValidator } from '../jobs/lineage/validator.ts';
import { runLoad } from '../jobs/load/index.ts';
import { runQuality } from '../jobs/quality/index.ts';
import { run as quarantineReplayJob, replayQuarantine } from '../jobs/quarantine/index.ts';
import { type PipelineResult, runPipeline } from '../jobs/run/index.ts';
import { runWatchdog, run as watchdogJob } from '../jobs/watchdog/index.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform, seedPlatform } from './harness.ts';

describe('observability end to end', () => {
  let platform: EmbeddedPlatform;
  let seeded: GenerateResult;
  let receiver: Receiver;
  let context: JobContext;
  let result: PipelineResult;
  let events: RunEvent[];
  const router = () =>
    staticAlertRouter({
      slack: { webhookUrl: `${receiver.url}/slack/hook` },
      pagerduty: { eventsUrl: `${receiver.url}/v2/enqueue`, routingKey: 'test-routing-key' },
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    });
  /** Watchdog runs are timed from the end of the pipeline run, so freshness does not depend on the test's speed. */
  let pipelineDone = 0;
  const watchdogAt = (offsetMs: number) =>
    runWatchdog(platform.context({ now: () => new Date(pipelineDone + offsetMs) }), { router: router() });
  const HOURS = 3_600_000;

  beforeAll(async () => {
    platform = await openEmbeddedPlatform();
    seeded = await seedPlatform(platform);
    receiver = await startReceiver();
    context = platform.context();
    result = await withLineageRun(
      context,
      'run',
      () => runPipeline(context),
      (run) => !run.ok,
    );
    expect(result.blockedBy).toEqual([]);
    pipelineDone = Date.now();
    events = await readLineageEvents(platform.lake, context.runId);
  });
  afterAll(async () => {
    await receiver.close();
    await platform.close();
  });

  describe('lineage of a full run', () => {
    it('validates every event against the OpenLineage 2-0-2 schema and its facets', () => {
      const validator = createLineageValidator();
      expect(events.length).toBeGreaterThan(50);
      for (const event of events)
        expect(validator.problems(event), `${event.job.name} ${event.eventType}`).toEqual([]);
    });

    it('gives every step a START then a COMPLETE on its own run, under the run id of the invocation', () => {
      const byRun = new Map<string, RunEvent[]>();
      for (const event of events) byRun.set(event.run.runId, [...(byRun.get(event.run.runId) ?? []), event]);
      for (const [runId, runEvents] of byRun) {
        expect(
          runEvents.map((event) => event.eventType),
          runEvents[0]?.job.name,
        ).toEqual(['START', 'COMPLETE']);
        if (runId === context.runId) expect(runEvents[0]?.job.name).toBe('run');
        else expect(runEvents[1]?.run.facets?.parent?.run.runId).toBe(context.runId);
      }
      const jobs = new Set(events.map((event) => event.job.name));
      for (const job of [
        'extract.orders',
        'stream-ingest',
        'validate.orders',
        'validate.clickstream',
        'load.bronze.orders',
        'quality.bronze',
        'transform.silver.orders',
        'quality.silver',
        'transform.gold.fact_orders',
        'quality.gold',
      ])
        expect(jobs, job).toContain(job);
    });

    it('carries SQL, schema, output statistics and data-quality assertion facets', async () => {
      const complete = (job: string) =>
        events.filter((event) => event.job.name === job && event.eventType === 'COMPLETE');
      const [fact] = complete('transform.gold.fact_orders');
      expect(fact?.job.facets?.sql?.query).toMatch(/^-- |with |select /i);
      expect(fact?.job.facets?.sql?.query).not.toMatch(/embedded-demo-pii-key/);
      expect(fact?.outputs[0]?.facets?.schema?.fields.map((field) => field.name)).toContain('net_amount_usd');
      const [gold] = await platform.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from gold.fact_orders',
      );
      expect(fact?.outputs[0]?.outputFacets?.outputStatistics?.rowCount).toBe(gold?.n);

      const loaded = complete('load.bronze.orders').reduce(
        (sum, event) => sum + (event.outputs[0]?.outputFacets?.outputStatistics?.rowCount ?? 0),
        0,
      );
      const [bronze] = await platform.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from bronze.orders',
      );
      expect(loaded).toBe(bronze?.n);

      const [quality] = complete('quality.gold');
      const checked = quality?.inputs.find((input) => input.name.endsWith('.gold.fact_orders'));
      expect(checked?.inputFacets?.dataQualityAssertions?.assertions).toEqual(
        expect.arrayContaining([
          { assertion: 'unique', success: true, column: 'order_id' },
          { assertion: 'not_null', success: true },
        ]),
      );
    });

    it('links source tables and topics to gold tables through every hop', () => {
      const from = sourceDataset(context, 'orders');
      const to = warehouseDataset(context, 'gold.fact_orders');
      expect(from.name).toBe('postgres.public.orders');
      expect(to.name).toBe('postgres.gold.fact_orders');
      // The key reconciliation reads the source table too and writes tombstones every silver table reads: a path
      // of its own, checked apart from the rows' way.
      expect(
        lineagePath(events, from, warehouseDataset(context, 'bronze.source_deletes'))?.map(
          (edge) => edge.job,
        ),
      ).toEqual(['reconcile.orders']);
      const rowsWay = events.filter((event) => !event.job.name.startsWith('reconcile.'));
      expect(lineagePath(rowsWay, from, to)?.map((edge) => edge.job)).toEqual([
        'extract.orders',
        'validate.orders',
        'load.bronze.orders',
        'transform.silver.orders',
        'transform.gold.fact_orders',
      ]);
      const sessions = lineagePath(
        events,
        topicDatasetOf(context, 'clickstream'),
        warehouseDataset(context, 'gold.fact_sessions'),
      );
      expect(sessions?.map((edge) => edge.job)).toEqual([
        'stream-ingest',
        'validate.clickstream',
        'load.bronze.clickstream_events',
        'transform.silver.clickstream_events',
        'transform.gold.fact_sessions',
      ]);
      expect(lineagePath(events, warehouseDataset(context, 'gold.fact_orders'), from)).toBeNull();
    });
  });

  describe('watchdog', () => {
    it('stays quiet on clean data: every check passes, no incident, no alert', async () => {
      const clean = await watchdogAt(0);
      expect(clean.failed.map((finding) => `${finding.checkId}: ${finding.details}`)).toEqual([]);
      expect(clean.findings.map((finding) => finding.checkType)).toEqual(
        expect.arrayContaining([
          'freshness',
          'volume_anomaly',
          'null_percentage',
          'referential_integrity',
          'business_rule',
        ]),
      );
      const volume = clean.findings.find((finding) => finding.checkId === 'watchdog:volume:silver.orders');
      expect(volume?.details).toMatch(/^2026-09-30: \d+ rows vs .* over 14 days/);
      expect(clean.gates.length).toBeGreaterThan(0); // the pipeline's blocking checks, all passing
      expect(clean.incidents.opened).toEqual([]);
      expect(receiver.requests).toEqual([]);
    });

    it('fires freshness on stale tables: one alert per incident, none while it keeps failing, a resolve when fresh', async () => {
      const stale = await watchdogAt(3 * HOURS);
      const failing = stale.failed.map((finding) => finding.checkId);
      expect(failing).toEqual(
        expect.arrayContaining([
          'watchdog:freshness:bronze.orders',
          'watchdog:freshness:bronze.clickstream_events',
          'watchdog:freshness:gold.fact_orders',
        ]),
      );
      expect(failing).not.toContain('watchdog:freshness:bronze.fx_rates'); // a daily feed: 26 h SLA
      expect(stale.failed.every((finding) => finding.checkType === 'freshness')).toBe(true);
      expect(stale.incidents.opened).toHaveLength(stale.failed.length);
      const expectedAlerts = stale.incidents.opened.reduce(
        (sum, incident) => sum + SEVERITY_CHANNELS[incident.severity].length,
        0,
      );
      expect(stale.deliveries).toEqual({ delivered: expectedAlerts, failed: 0, unrouted: 0, deferred: 0 });
      expect(receiver.requests).toHaveLength(expectedAlerts);
      for (const incident of stale.incidents.opened) {
        const about = receiver.requests.filter(
          (request) =>
            (request.body as { dedup_key?: string }).dedup_key === incident.incident_id ||
            String((request.body as { text?: string }).text).includes(incident.incident_id),
        );
        expect(about, incident.check_id).toHaveLength(SEVERITY_CHANNELS[incident.severity].length);
      }

      const again = await watchdogAt(3.5 * HOURS);
      expect(again.incidents.opened).toEqual([]);
      expect(again.incidents.continuing).toHaveLength(stale.incidents.opened.length);
      expect(receiver.requests).toHaveLength(expectedAlerts);

      const fresh = await watchdogAt(0);
      expect(fresh.incidents.resolved).toHaveLength(stale.incidents.opened.length);
      expect(receiver.requests).toHaveLength(2 * expectedAlerts);
      const resolves = receiver.requests
        .slice(expectedAlerts)
        .map((request) => request.body as Record<string, unknown>);
      for (const body of resolves) {
        if (body.event_action) expect(body.event_action).toBe('resolve');
        else expect(String(body.text)).toMatch(/^:white_check_mark: Resolved/);
      }
      const [row] = await platform.warehouse.query<{ n: number }>(
        "select cast(count(*) as integer) as n from ops.incidents where status = 'open'",
      );
      expect(row?.n).toBe(0);
      receiver.requests.length = 0;
    });

    it('fires the volume anomaly and null percentage checks on data broken for them, and clears once repaired', async () => {
      const db = platform.warehouse;
      await db.exec(`
        create table silver.orders_backup as select * from silver.orders;
        create table silver.customers_backup as select * from silver.customers;
        delete from silver.orders where order_date = (select max(order_date) from silver.orders) and order_id % 8 <> 0;
        update silver.customers set email_hash = null where customer_id % 10 = 0;
      `);
      const broken = await watchdogAt(0);
      const failing = new Map(broken.failed.map((finding) => [finding.checkId, finding]));
      expect(failing.get('watchdog:volume:silver.orders')?.details).toMatch(
        /2026-09-30: \d+ rows vs .*z -\d/,
      );
      expect(failing.get('watchdog:null_pct:silver.customers.email_hash')).toMatchObject({
        severity: 'warn',
        owner: 'data-platform',
      });
      expect(failing.get('watchdog:null_pct:silver.customers.email_hash')?.details).toMatch(/^10\.\d+% null/);
      const findings = await db.query<{ check_id: string; status: string; run_id: string }>(
        "select check_id, status, run_id from ops.dq_findings where check_id like 'watchdog:%' and status = 'fail'",
      );
      expect(findings.map((finding) => finding.check_id)).toEqual(
        expect.arrayContaining([
          'watchdog:volume:silver.orders',
          'watchdog:null_pct:silver.customers.email_hash',
        ]),
      );
      expect(broken.incidents.opened.map((incident) => incident.check_id).sort()).toEqual(
        [...failing.keys()].sort(),
      );
      expect(receiver.requests.length).toBeGreaterThan(0);

      // The receiver goes down: the alerts of a new incident are retried, then recorded as undelivered.
      receiver.respond(() => 500);
      await db.exec('update silver.orders set channel = null where order_id % 50 = 0');
      const down = await watchdogAt(0);
      expect(down.incidents.opened.map((incident) => incident.check_id)).toEqual([
        'watchdog:null_pct:silver.orders.channel',
      ]);
      expect(down.deliveries.failed).toBe(2); // blocking: PagerDuty and Slack, 3 tries each
      expect(down.undelivered).toBe(2);
      const undelivered = await db.query<{ status: string; attempts: number; last_error: string }>(
        `select status, cast(attempts as integer) as attempts, last_error from ops.alert_deliveries
         where status = 'failed'`,
      );
      expect(undelivered).toEqual([
        expect.objectContaining({
          status: 'failed',
          attempts: 3,
          last_error: expect.stringMatching(/answered 500/),
        }),
        expect.objectContaining({
          status: 'failed',
          attempts: 3,
          last_error: expect.stringMatching(/answered 500/),
        }),
      ]);

      receiver.respond((request) => (request.path.includes('enqueue') ? 202 : 200));
      receiver.requests.length = 0;
      await db.exec(`
        delete from silver.orders; insert into silver.orders select * from silver.orders_backup;
        delete from silver.customers; insert into silver.customers select * from silver.customers_backup;
        drop table silver.orders_backup; drop table silver.customers_backup;
      `);
      const repaired = await watchdogAt(0);
      expect(repaired.failed).toEqual([]);
      expect(repaired.undelivered).toBe(0);
      expect(repaired.incidents.resolved).toHaveLength(broken.incidents.opened.length + 1);
      // The two held-back triggers go out, each before its resolve; each incident resolves where it was announced.
      const sent = receiver.requests.map((request) => {
        const body = request.body as { event_action?: string; dedup_key?: string; text?: string };
        const kind =
          body.event_action ?? (body.text?.startsWith(':white_check_mark:') ? 'resolve' : 'trigger');
        const incident = body.dedup_key ?? /incident ([0-9a-f-]{36})/.exec(body.text ?? '')?.[1];
        return { kind, channel: body.event_action ? 'pagerduty' : 'slack', incident };
      });
      expect(sent.filter((alert) => alert.kind === 'trigger')).toHaveLength(2);
      const resolvedChannels = [...broken.incidents.opened, ...down.incidents.opened].reduce(
        (sum, incident) => sum + SEVERITY_CHANNELS[incident.severity].length,
        0,
      );
      expect(sent.filter((alert) => alert.kind === 'resolve')).toHaveLength(resolvedChannels);
      const channelIncident = down.incidents.opened[0]?.incident_id;
      for (const channel of ['pagerduty', 'slack']) {
        expect(
          sent
            .filter((alert) => alert.incident === channelIncident && alert.channel === channel)
            .map((alert) => alert.kind),
        ).toEqual(['trigger', 'resolve']);
      }
      expect(repaired.deliveries.failed).toBe(0);
      const stillWaiting = await deliverPendingAlerts(platform.warehouse, router(), {
        runId: context.runId,
        now: () => new Date(),
      });
      expect(stillWaiting).toEqual({ delivered: 0, failed: 0, unrouted: 0, deferred: 0 });
    });
    it('runs as `ecomm watchdog`: a summary, exit 0 with nothing left undelivered', async () => {
      const lines: string[] = [];
      const code = await watchdogJob(platform.context({ now: () => new Date(pipelineDone) }), {}, (line) =>
        lines.push(line),
      );
      expect(code).toBe(0);
      expect(lines).toEqual([
        expect.stringMatching(
          /^watchdog: (\d+)\/\1 checks passed; incidents 0 opened, 0 ongoing, 0 resolved$/,
        ),
        'alerts: 0 delivered, 0 failed, 0 unrouted, 0 waiting for the next run',
      ]);
    });
  });

  describe('quarantine replay', () => {
    const RELAXED_STATUSES = ['returned', 'on_hold', 'refunded', 'backordered'];
    /** The orders contract after a fix that accepts the statuses the OLTP started sending. */
    const relaxedOrders = (): DataContract => {
      const base = contractFor('orders');
      const statusIndex = base.columns.indexOf('status');
      return {
        ...base,
        check(record) {
          const status = record.status;
          if (typeof status !== 'string' || !RELAXED_STATUSES.includes(status)) return base.check(record);
          const verdict = base.check({ ...record, status: 'pending' });
          if (verdict.reasons.length === 0) verdict.values[statusIndex] = status;
          return verdict;
        },
      };
    };
    const contracts = (source: string) => (source === 'orders' ? relaxedOrders() : contractFor(source));
    const bronzeCount = async (where: string) => {
      const [row] = await platform.warehouse.query<{ n: number }>(
        `select cast(count(*) as integer) as n from bronze.orders where ${where}`,
      );
      return row?.n ?? -1;
    };

    it('promotes the rows that pass the fixed contract into bronze exactly once, and keeps the audit trail', async () => {
      const [batch] = await platform.warehouse.query<{
        batch_id: string;
        quarantine_key: string;
        rows_quarantined: number;
      }>(
        `select batch_id, quarantine_key, cast(rows_quarantined as integer) as rows_quarantined from ops.batches
         where source = 'orders' and rows_quarantined > 0`,
      );
      if (!batch) throw new Error('the seeded orders have quarantined rows');
      const unknownStatus = seeded.anomalies.filter(
        (a) => a.source === 'orders' && a.kind === 'unknown_status',
      );
      const missingId = seeded.anomalies.filter((a) => a.source === 'orders' && a.kind === 'missing_id');
      expect(batch.rows_quarantined).toBe(unknownStatus.length + missingId.length);
      const quarantineRowsBefore = await platform.warehouse.query(
        'select * from ops.quarantine_rows order by batch_id, row_number',
      );
      const bronzeBefore = await bronzeCount('true');

      const errors: string[] = [];
      expect(
        await quarantineReplayJob(
          platform.context(),
          { batch: 'no_such_batch' },
          () => {},
          (line) => errors.push(line),
        ),
      ).toBe(2);
      expect(errors).toEqual([
        'ecomm: quarantine replay: no batch no_such_batch in the ledger (ops.batches)',
      ]);
      // Without a fix nothing passes.
      const unchanged = await replayQuarantine(platform.context(), { batchId: batch.batch_id, load: true });
      expect(unchanged).toMatchObject({
        promoted: 0,
        stillFailing: batch.rows_quarantined,
        replayBatchId: null,
      });

      const fixed = await replayQuarantine(platform.context(), {
        batchId: batch.batch_id,
        contractFor: contracts,
        load: true,
      });
      expect(fixed).toMatchObject({
        quarantined: batch.rows_quarantined,
        alreadyPromoted: 0,
        examined: batch.rows_quarantined,
        promoted: unknownStatus.length,
        stillFailing: missingId.length,
        replayBatchId: `${batch.batch_id}_replay_2`,
      });
      expect(Object.keys(fixed.reasons)).toEqual(['customer_id: required value is missing']);
      expect(fixed.loaded?.map((loaded) => [loaded.batchId, loaded.rows])).toEqual([
        [`${batch.batch_id}_replay_2`, unknownStatus.length],
      ]);
      const promotedIds = unknownStatus.map((anomaly) => String(anomaly.id));
      expect(await bronzeCount(`order_id in (${promotedIds.map((id) => `'${id}'`).join(', ')})`)).toBe(
        promotedIds.length,
      );
      expect(
        await bronzeCount(`_batch_id = '${batch.batch_id}_replay_2' and _source_file like 'raw/%'`),
      ).toBe(promotedIds.length);

      // Replaying again, or loading again, moves nothing twice.
      const twice = await replayQuarantine(platform.context(), {
        batchId: batch.batch_id,
        contractFor: contracts,
        load: true,
      });
      expect(twice).toMatchObject({
        alreadyPromoted: unknownStatus.length,
        promoted: 0,
        replayBatchId: null,
        loaded: [],
      });
      expect(await runLoad(platform.context())).toEqual([]);
      expect(await bronzeCount('true')).toBe(bronzeBefore + unknownStatus.length);

      // Audit trail: the quarantine object and rows are untouched; every re-validation is recorded.
      expect(await platform.lake.head(batch.quarantine_key)).toBeDefined();
      expect(
        await platform.warehouse.query('select * from ops.quarantine_rows order by batch_id, row_number'),
      ).toEqual(quarantineRowsBefore);
      const replays = await platform.warehouse.query<{ replay_batch_id: string; status: string; n: number }>(
        `select replay_batch_id, status, cast(count(*) as integer) as n from ops.quarantine_replays
         where batch_id = $1 group by replay_batch_id, status order by replay_batch_id, status`,
        [batch.batch_id],
      );
      expect(replays).toEqual([
        { replay_batch_id: `${batch.batch_id}_replay_1`, status: 'failed', n: batch.rows_quarantined },
        { replay_batch_id: `${batch.batch_id}_replay_2`, status: 'failed', n: missingId.length },
        { replay_batch_id: `${batch.batch_id}_replay_2`, status: 'promoted', n: unknownStatus.length },
        { replay_batch_id: `${batch.batch_id}_replay_3`, status: 'failed', n: missingId.length },
      ]);
      // The ledger still reconciles: raw = staged + quarantined = loaded = rows in bronze, replay batch included.
      const bronzeChecks = await runQuality(platform.context(), 'bronze');
      expect(
        bronzeChecks.filter((finding) => finding.checkType === 'row_count_reconciliation' && !finding.passed),
      ).toEqual([]);
    });

    it('replays events from the raw envelopes, keeping their stream position', async () => {
      const [batch] = await platform.warehouse.query<{ batch_id: string; wrong_type: number; other: number }>(
        `select batch_id,
           cast(sum(case when reasons like 'quantity: expected an integer%' then 1 else 0 end) as integer) as wrong_type,
           cast(sum(case when reasons like 'quantity: expected an integer%' then 0 else 1 end) as integer) as other
         from ops.quarantine_rows where source = 'clickstream' group by batch_id order by 2 desc, 1 limit 1`,
      );
      if (!batch || batch.wrong_type === 0)
        throw new Error('the seeded clickstream has wrong-type quantities');
      // The fix: producers sent quantities as English words; the contract now reads them.
      const words: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5 };
      const clickstream = contractFor('clickstream');
      const fixed: DataContract = {
        ...clickstream,
        check: (record) =>
          clickstream.check(
            typeof record.quantity === 'string' && words[record.quantity] !== undefined
              ? { ...record, quantity: words[record.quantity] }
              : record,
          ),
      };
      const report = await replayQuarantine(platform.context(), {
        batchId: batch.batch_id,
        contractFor: (source) => (source === 'clickstream' ? fixed : contractFor(source)),
        load: true,
      });
      expect(report).toMatchObject({ promoted: batch.wrong_type, stillFailing: batch.other });
      const [bronze] = await platform.warehouse.query<{ n: number; positioned: number }>(
        `select cast(count(*) as integer) as n,
           cast(sum(case when _stream_offset is not null and _published_at is not null then 1 else 0 end) as integer)
             as positioned
         from bronze.clickstream_events where _batch_id = $1`,
        [report.replayBatchId],
      );
      expect(bronze).toEqual({ n: batch.wrong_type, positioned: batch.wrong_type });
    });

    it('leaves no staged object and no replay batch behind when a replay fails midway', async () => {
      // A batch not replayed yet with two rows the fix below promotes.
      const [batch] = await platform.warehouse.query<{ batch_id: string }>(
        `select batch_id from ops.quarantine_rows q
         where source = 'clickstream' and reasons like 'quantity: expected an integer%'
           and not exists (select 1 from ops.quarantine_replays r where r.batch_id = q.batch_id)
         group by batch_id having count(*) >= 2 order by batch_id limit 1`,
      );
      if (!batch) throw new Error('the seeded clickstream has a batch with two wrong-type quantities');
      const words: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5 };
      const clickstream = contractFor('clickstream');
      let promoted = 0;
      // A fix that breaks on the second row it would promote, after the first one was staged.
      const breaking: DataContract = {
        ...clickstream,
        check: (record) => {
          const verdict = clickstream.check(
            typeof record.quantity === 'string' && words[record.quantity] !== undefined
              ? { ...record, quantity: words[record.quantity] }
              : record,
          );
          if (verdict.reasons.length === 0 && ++promoted === 2) throw new Error('the fix broke');
          return verdict;
        },
      };
      const stagedReplays = async () => {
        const keys: string[] = [];
        for await (const object of platform.lake.list('staging/source=clickstream/'))
          if (object.key.includes(`${batch.batch_id}_replay_`)) keys.push(object.key);
        return keys;
      };
      await expect(
        replayQuarantine(platform.context(), {
          batchId: batch.batch_id,
          contractFor: (source) => (source === 'clickstream' ? breaking : contractFor(source)),
        }),
      ).rejects.toThrow('the fix broke');
      expect(promoted).toBe(2);
      expect(await stagedReplays()).toEqual([]);
      expect(
        await platform.warehouse.query('select batch_id from ops.batches where batch_id like $1', [
          `${batch.batch_id}_replay_%`,
        ]),
      ).toEqual([]);
    });
  });
});
