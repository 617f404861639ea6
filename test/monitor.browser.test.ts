import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../jobs/generate/index.ts';
import { addDays } from '../jobs/monitor/queries.ts';
import { type RunningMonitor, startMonitor } from '../jobs/monitor/server.ts';
import { PII_RECORD } from '../jobs/monitor/test-fixtures.ts';
import { markBatchFailed, registerBatch } from '../jobs/ops/batches.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform, seedPlatform } from './harness.ts';

/** Debian's chromium package; never a downloaded browser (the test machine may have no internet). */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;

/** The reason validate gives each kind of injected bad record (docs/generator.md), by its bad field. */
function expectedReason(kind: string, field: string | undefined): string {
  switch (kind) {
    case 'negative_price':
      return `${field}: must be >= 0`;
    case 'unknown_status':
      return 'status: must be one of';
    case 'missing_id':
      return `${field}: required value is missing`;
    case 'wrong_type':
      return `${field}: expected an integer`;
    case 'malformed_json':
      return 'malformed JSON';
    default:
      throw new Error(`no quarantine reason known for anomaly kind ${kind}`);
  }
}

/**
 * The monitor in a real headless Chromium over a finished embedded pipeline run, checked the way an operator
 * would look at it: the KPI tiles against gold, the run in the history, the injected bad records in quarantine.
 */
describe('monitor UI in headless Chromium', () => {
  let platform: EmbeddedPlatform;
  let seeded: GenerateResult;
  let runId: string;
  let monitor: RunningMonitor;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];
  const failedRequests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: this test drives Debian's chromium package. Install it with ` +
          '`apt-get update && apt-get install -y chromium` (playwright-core never downloads a browser here).',
      );
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    platform = await openEmbeddedPlatform();
    seeded = await seedPlatform(platform);
    const context = platform.context();
    runId = context.runId;
    const result = await runPipeline(context);
    expect(result.ok, `pipeline blocked by ${result.blockedBy.join(', ')}`).toBe(true);
    // A customer row with every PII column in clear, as a broken source could send it: the page may only mask it.
    await platform.warehouse.query(
      'insert into ops.quarantine_rows (batch_id, source, row_number, reasons, record) values ($1, $2, $3, $4, $5)',
      [
        'customers_pii_probe',
        'customers',
        1,
        'loyalty_tier: must be one of bronze, silver, gold',
        JSON.stringify(PII_RECORD),
      ],
    );
    // A batch held back on its own data, its reason quoting a value with personal data in it.
    await registerBatch(platform.warehouse, {
      batchId: 'orders_held_probe',
      source: 'orders',
      kind: 'table',
      ingestionDate: '2026-10-01',
      rawKey: 'raw/source=orders/ingestion_date=2026-10-01/orders_held_probe.csv',
      rows: 5,
      at: new Date(),
    });
    await markBatchFailed(platform.warehouse, {
      batchId: 'orders_held_probe',
      step: 'validate',
      reason: 'raw object is not valid gzip near "jane.doe77@example.com"',
      at: new Date(),
    });
    monitor = await startMonitor({
      warehouse: platform.warehouse,
      port: 0,
      refreshSeconds: 2,
      liveRefreshSeconds: 1,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith(`${monitor.url}/`)) foreignRequests.push(request.url());
    });
    page.on('requestfailed', (request) => {
      const error = request.failure()?.errorText ?? 'failed';
      // A navigation cancels the page's own background refresh in flight: the browser aborting it is not a failure.
      const abortedRefresh = error === 'net::ERR_ABORTED' && request.headers()['x-monitor-refresh'] === '1';
      if (!abortedRefresh) failedRequests.push(`${request.url()}: ${error}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await monitor?.close();
    await platform?.close();
  });

  it('shows the KPI tiles of the last day exactly as gold.agg_daily_sales holds them, with the refresh time', async () => {
    const [day] = await platform.warehouse.query<{
      order_date: string;
      revenue_usd: string;
      order_count: number;
      aov_usd: string;
      new_customers: number;
    }>(
      `select cast(order_date as varchar(10)) as order_date, cast(revenue_usd as varchar(32)) as revenue_usd,
         cast(order_count as integer) as order_count, cast(aov_usd as varchar(32)) as aov_usd,
         cast(new_customers as integer) as new_customers
       from gold.agg_daily_sales order by order_date desc limit 1`,
    );
    if (!day) throw new Error('gold.agg_daily_sales is empty');
    await page.goto(`${monitor.url}/`);
    const usd = (value: string) =>
      `$${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    const tile = (kpi: string) => page.locator(`[data-kpi="${kpi}"] .tile-value`);
    await expect.poll(() => tile('revenue').getAttribute('data-value')).toBe(day.revenue_usd);
    expect(await tile('revenue').textContent()).toBe(usd(day.revenue_usd));
    expect(await tile('orders').textContent()).toBe(day.order_count.toLocaleString('en-US'));
    expect(await tile('aov').getAttribute('data-value')).toBe(day.aov_usd);
    expect(await tile('aov').textContent()).toBe(usd(day.aov_usd));
    expect(await tile('new-customers').textContent()).toBe(String(day.new_customers));
    expect(await page.locator('[data-kpi-date]').textContent()).toBe(day.order_date);
    expect(await page.locator('#kpi-refresh').textContent()).toMatch(
      /last refreshed: gold built \d{4}-\d{2}-\d{2} [\d:]+ UTC/,
    );

    const categories = await platform.warehouse.query<{ category: string }>(
      `select category from gold.agg_product_kpi where order_date >= cast($1 as date) and order_date <= cast($2 as date)
       group by category order by sum(revenue_usd) desc, category limit 5`,
      [addDays(day.order_date, -6), day.order_date],
    );
    expect(
      await page
        .locator('[data-kpi="top-categories"] li')
        .evaluateAll((items) => items.map((item) => item.getAttribute('data-category'))),
    ).toEqual(categories.map((row) => row.category));
    for (const job of ['extract', 'stream-ingest', 'validate', 'load', 'transform']) {
      const row = page.locator(`tr[data-job="${job}"]`);
      expect(await row.locator('.badge').first().textContent(), job).toBe('succeeded');
      expect(await row.locator('a[title]').getAttribute('title'), job).toBe(runId);
    }
    expect(await page.locator('tr[data-freshness="orders"] .badge').textContent()).toBe('within SLA');
    const held = page.locator('#held-batches tr[data-batch="orders_held_probe"]');
    expect(await held.locator('.badge').textContent()).toBe('failed');
    expect(await held.textContent()).toContain('validate');
    expect(await held.textContent()).toContain('raw object is not valid gzip near "j***@example.com"');
    expect(await page.locator('#held-batches').textContent()).not.toContain('jane.doe77');
    await page.screenshot({ path: `${ARTIFACTS}monitor-overview.png`, fullPage: true });
  });

  it('lists the finished run in run history with every job it ran and every step', async () => {
    await page.goto(`${monitor.url}/runs`);
    const run = page.locator(`details[data-run-id="${runId}"]`);
    expect(await run.getAttribute('open')).not.toBeNull();
    const jobs = await platform.warehouse.query<{ job: string }>(
      'select distinct job from ops.pipeline_runs where run_id = $1',
      [runId],
    );
    expect(jobs.map((row) => row.job)).toEqual(
      expect.arrayContaining(['extract', 'stream-ingest', 'validate', 'load', 'transform']),
    );
    const chips = await run.locator('.run-jobs .chip').allTextContents();
    expect([...chips].sort()).toEqual(jobs.map((row) => row.job).sort());
    const [steps] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.pipeline_runs where run_id = $1',
      [runId],
    );
    expect(await run.locator('table.steps tbody tr').count()).toBe(steps?.n);
    expect(await run.locator('summary').textContent()).toContain(runId.slice(0, 8));
    await page.screenshot({ path: `${ARTIFACTS}monitor-runs.png` });
  });

  it('lists every injected bad record under its reason in the quarantine view, personal data masked', async () => {
    const expected = seeded.anomalies.filter((anomaly) => anomaly.expected === 'quarantine');
    expect(expected.length).toBeGreaterThan(0);
    await page.goto(`${monitor.url}/quarantine`);
    const groups = await page.locator('tr[data-reason]').evaluateAll((rows) =>
      rows.map((row) => ({
        source: row.getAttribute('data-source') ?? '',
        reason: row.getAttribute('data-reason') ?? '',
        rows: Number((row.querySelectorAll('td')[2]?.textContent ?? '0').replace(/,/g, '')),
      })),
    );
    const wanted = new Map<string, number>();
    for (const anomaly of expected) {
      const key = `${anomaly.source}|${expectedReason(anomaly.kind, anomaly.field)}`;
      wanted.set(key, (wanted.get(key) ?? 0) + 1);
    }
    for (const [key, count] of wanted) {
      const [source, reason] = key.split('|') as [string, string];
      const shown = groups
        .filter((group) => group.source === source && group.reason.startsWith(reason))
        .reduce((sum, group) => sum + group.rows, 0);
      expect(shown, key).toBe(count);
    }
    await page.screenshot({ path: `${ARTIFACTS}monitor-quarantine.png`, fullPage: true });

    // Pick the unknown-status reason: its sample rows are exactly the orders the generator broke.
    const unknownStatus = expected.filter((anomaly) => anomaly.kind === 'unknown_status');
    await page.locator('tr[data-source="orders"][data-reason^="status: must be one of"] a').click();
    await page.waitForURL(/reason=status/);
    const samples = await page.locator('#samples').innerHTML();
    for (const anomaly of unknownStatus) expect(samples).toContain(`<dt>order_id</dt><dd>${anomaly.id}</dd>`);
    expect(await page.locator('#samples tbody tr').count()).toBe(unknownStatus.length);
    expect(await page.locator('#samples .bad-field dt').first().textContent()).toBe('status');

    await page.goto(`${monitor.url}/quarantine?source=customers`);
    const html = await page.content();
    expect(html).toContain('<dt>email</dt><dd>j***@example.com</dd>');
    for (const secret of ['jane.doe77', 'Jane', 'Baker Street', '7946 0958'])
      expect(html).not.toContain(secret);
  });

  it('draws the data-quality trend and the lineage from sources to gold', async () => {
    await page.goto(`${monitor.url}/quality`);
    expect(await page.locator(`svg.chart g.bar[data-run-id="${runId}"] rect`).count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${ARTIFACTS}monitor-quality.png`, fullPage: true });
    await page.goto(`${monitor.url}/lineage`);
    for (const node of [
      'source:orders',
      'source:clickstream',
      'lake:orders',
      'bronze.orders',
      'silver.orders',
      'gold.agg_daily_sales',
    ])
      expect(await page.locator(`svg.lineage [data-node="${node}"]`).count(), node).toBe(1);
    await page.screenshot({ path: `${ARTIFACTS}monitor-lineage.png`, fullPage: true });
  });

  it('refreshes itself in place (and falls back to a meta refresh of at most 60 s without JavaScript)', async () => {
    await page.goto(`${monitor.url}/`);
    const first = await page.locator('#refreshed-at').getAttribute('datetime');
    await expect
      .poll(() => page.locator('#refreshed-at').getAttribute('datetime'), { timeout: 10_000, interval: 250 })
      .not.toBe(first);
    expect(await page.locator('[data-kpi="revenue"] .tile-value').count()).toBe(1);
    expect((await page.locator('body').getAttribute('class')) ?? '').not.toContain('stale');
    const fallback = await page.locator('noscript').innerHTML();
    const seconds = Number(/content="(\d+)"/.exec(fallback)?.[1]);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);
  });

  it('follows the stream in the live tiles: a minute the stream service applies shows within seconds, in place', async () => {
    await page.goto(`${monitor.url}/`);
    const liveTile = (row: string, kpi: string) =>
      page.locator(`[data-live="${row}"] [data-kpi="${kpi}"] .tile-value`);
    const ordersBefore = Number(await liveTile('today', 'live-orders').getAttribute('data-value'));
    const revenueBefore = Number(await liveTile('today', 'live-revenue').getAttribute('data-value'));
    const liveFetches: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/live') liveFetches.push(request.url());
    });
    // The page is not reloaded: the marker survives while the live section is swapped.
    await page.evaluate(() => {
      (globalThis as unknown as { liveMarker: number }).liveMarker = 1;
    });
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // What the stream service's applier writes in a round (jobs/kpis/realtime.ts): the minute and the progress.
    await platform.warehouse.transaction(async (tx) => {
      await tx.query(
        `insert into realtime.order_minutes (minute_start, currency, orders, orders_with_total, order_total,
           cancellations, rate_to_usd, revenue_usd, updated_at) values ($1, 'USD', 7, 7, 700.00, 0, 1, 700.00, $2)`,
        [minute, new Date()],
      );
      await tx.query(`delete from realtime.stream_progress where topic = 'order-events'`);
      await tx.query(
        `insert into realtime.stream_progress (topic, newest_event_at, applied_at) values ('order-events', $1, $1)`,
        [new Date()],
      );
    });
    await expect
      .poll(() => liveTile('today', 'live-orders').getAttribute('data-value'), {
        timeout: 10_000,
        interval: 200,
      })
      .toBe(String(ordersBefore + 7));
    expect(Number(await liveTile('today', 'live-revenue').getAttribute('data-value'))).toBeCloseTo(
      revenueBefore + 700,
      2,
    );
    expect(
      Number(await liveTile('last-hour', 'live-orders').getAttribute('data-value')),
    ).toBeGreaterThanOrEqual(7);
    expect(await page.locator('[data-topic="order-events"] .badge').textContent()).toBe('live');
    expect(await page.evaluate(() => (globalThis as unknown as { liveMarker?: number }).liveMarker)).toBe(1);
    // Swapped by the section's own timer (/live every second here), not only by the 2 s whole-page refresh.
    expect(liveFetches.length).toBeGreaterThan(0);
    // The daily tiles keep coming from gold, and say so.
    expect(await page.locator('[data-kpi="revenue"]').getAttribute('data-source')).toBe('gold');
    await page.locator('#live').screenshot({ path: `${ARTIFACTS}monitor-live.png` });
  });

  it('made no request outside the monitor, and logged no console or page error', () => {
    expect(foreignRequests).toEqual([]);
    expect(failedRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
