import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { loadKpis } from './queries.ts';
import { readOnlyDatabase } from './readonly.ts';
import { type RunningMonitor, startMonitor } from './server.ts';
import { FIXTURE_NOW, openFixtureWarehouse, RUN_NEW, RUN_OLD } from './test-fixtures.ts';

const ROLE_SQL = readFileSync(new URL('./readonly-role.sql', import.meta.url), 'utf8');

async function get(monitor: RunningMonitor, path: string, init: RequestInit = {}) {
  const response = await fetch(`${monitor.url}${path}`, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe('the monitor database handle', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openFixtureWarehouse();
  });
  afterAll(async () => {
    await db.close();
  });

  it('rejects every kind of write, inside the engine, and leaves the data as it was', async () => {
    const readOnly = readOnlyDatabase(db);
    const before = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.pipeline_runs',
    );
    const writes = [
      () => readOnly.query("insert into ops.watermarks values ('x', now(), 'b', now())"),
      () => readOnly.query("update ops.pipeline_runs set status = 'failed'"),
      () => readOnly.query('delete from ops.pipeline_runs'),
      () => readOnly.exec('create table ops.intruder (a integer)'),
      () => readOnly.exec('drop table gold.agg_daily_sales'),
      () =>
        readOnly.exec(
          "set transaction read write; insert into ops.watermarks values ('x', now(), 'b', now())",
        ),
      () => readOnly.transaction((tx) => tx.query('truncate ops.batches')),
    ];
    for (const write of writes)
      await expect(write()).rejects.toThrow(/read-only transaction|read-write mode/);
    await expect(
      readOnly.copyFromCsv('ops.batches', ['batch_id'], { store: {} as never, key: 'k' }),
    ).rejects.toThrow(/read-only/);
    expect(await db.query('select cast(count(*) as integer) as n from ops.pipeline_runs')).toEqual(before);
    expect(await readOnly.query('select cast(count(*) as integer) as n from ops.pipeline_runs')).toEqual(
      before,
    );
    // The handle leaves the underlying connection writable for its owner: the guard is per transaction.
    await db.query("insert into ops.watermarks values ('probe', now(), 'b', now())");
    await db.query("delete from ops.watermarks where source = 'probe'");
  });
});

describe('the monitor over HTTP', () => {
  let db: SqlDatabase;
  let monitor: RunningMonitor;
  beforeAll(async () => {
    db = await openFixtureWarehouse();
    monitor = await startMonitor({ warehouse: db, port: 0, now: () => FIXTURE_NOW, onError: () => {} });
  });
  afterAll(async () => {
    await monitor.close();
    await db.close();
  });

  it('serves the overview: KPI tiles of the last day, the latest run of every job, freshness against SLA', async () => {
    const page = await get(monitor, '/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/data-kpi="revenue"[\s\S]*?data-value="1234.56">\$1,234.56</);
    expect(page.body).toMatch(/data-kpi="orders"[\s\S]*?data-value="15">15</);
    expect(page.body).toMatch(/data-kpi="aov"[\s\S]*?data-value="82.30">\$82.30</);
    expect(page.body).toMatch(/data-kpi="new-customers"[\s\S]*?data-value="3">3</);
    // Top categories: the 7 days ending on the last order date, so the September 1st toys are out.
    expect(page.body).toMatch(
      /data-category="home &amp; kitchen"[\s\S]*data-category="electronics"[\s\S]*data-category="beauty"/,
    );
    expect(page.body).not.toContain('toys');
    expect(page.body).toContain('gold built <time datetime="2026-10-01T11:34:00.000Z">');
    expect(page.body).toMatch(/data-job="transform"[\s\S]*?badge-ok">succeeded/);
    expect(page.body).toMatch(/data-freshness="orders"[\s\S]*?within SLA/);
    expect(page.body).toMatch(/data-freshness="customers"[\s\S]*?badge-warn">late/);
    expect(page.body).toMatch(/data-freshness="order-events"[\s\S]*?never loaded/);
    // Further sources whose settings are unset (no batch ever) are not listed as stale.
    expect(page.body).not.toContain('data-freshness="crm_contacts"');
    expect(page.body).not.toContain('data-freshness="sales_history"');
    // Held-back batches: the failed one first, with its step and masked reason, then the skipped one.
    expect(page.body).toMatch(
      /id="held-batches"[\s\S]*1 failed<\/strong>, 1 skipped[\s\S]*data-batch="products_bad" data-status="failed"[\s\S]*?<td>load<\/td>[\s\S]*?key product_id=17[\s\S]*data-batch="order_items_gone" data-status="skipped"/,
    );
    expect(page.body).toContain('skipped: raw object lost &lt;b&gt;for good&lt;/b&gt;');
    const json = await get(monitor, '/api/overview');
    for (const body of [page.body, json.body]) {
      expect(body).toContain('j***@example.com');
      expect(body).not.toContain('jane.doe77');
    }
    expect(JSON.parse(json.body).heldBatches.data).toMatchObject({ failed: 1, skipped: 1 });
  });

  it('serves the live tiles from the realtime tables: today so far and the last 60 minutes, each source named', async () => {
    const tile = (body: string, row: string, kpi: string) =>
      new RegExp(
        `data-live="${row}"[\\s\\S]*?data-kpi="${kpi}" data-source="stream">[\\s\\S]*?data-value="([^"]*)">([^<]*)<`,
      ).exec(body);
    for (const path of ['/', '/live']) {
      const page = await get(monitor, path);
      expect(page.status, path).toBe(200);
      expect(tile(page.body, 'today', 'live-revenue')?.slice(1), path).toEqual(['660.00', '$660.00']);
      expect(tile(page.body, 'today', 'live-orders')?.slice(1)).toEqual(['12', '12']);
      expect(tile(page.body, 'today', 'live-aov')?.slice(1)).toEqual(['73.33', '$73.33']);
      expect(tile(page.body, 'today', 'live-conversion')?.slice(1)).toEqual(['0.125', '12.5%']);
      expect(tile(page.body, 'today', 'live-cancellations')?.slice(1)).toEqual(['1', '1']);
      expect(tile(page.body, 'last-hour', 'live-revenue')?.slice(1)).toEqual(['260.00', '$260.00']);
      expect(tile(page.body, 'last-hour', 'live-orders')?.slice(1)).toEqual(['5', '5']);
      expect(tile(page.body, 'last-hour', 'live-aov')?.slice(1)).toEqual(['52.00', '$52.00']);
      expect(tile(page.body, 'last-hour', 'live-conversion')?.slice(1)).toEqual(['0.2', '20%']);
      // A missing FX rate is flagged beside revenue, never counted as zero; v1 events without amount are said too.
      expect(page.body).toMatch(/data-live="today"[\s\S]*?data-note="awaiting-rate">1 order\(s\) await/);
      expect(page.body).toMatch(/data-live="today"[\s\S]*?data-note="without-amount">2 order\(s\)/);
      // The newest event's age per topic: 30 s is live, 10 minutes is behind.
      expect(page.body).toMatch(
        /data-topic="order-events" data-age-seconds="30"[\s\S]*?30 s ago[\s\S]*?badge-ok">live/,
      );
      expect(page.body).toMatch(/data-topic="clickstream" data-age-seconds="600"[\s\S]*?badge-warn">behind/);
      expect(page.body).toContain('data-live-seconds="5"');
    }
    const live = await get(monitor, '/live');
    // The watchdog's latest reconciliation with gold is said beside the live tiles.
    expect(live.body).toMatch(
      /data-reconciled="fail"[\s\S]*?badge-warn">differs[\s\S]*?orders 98 stream vs 100 gold/,
    );
    expect(live.body.trimStart().startsWith('<section class="panel" id="live"')).toBe(true);
    // The daily tiles say they come from gold.
    const overview = (await get(monitor, '/')).body;
    expect(overview).toMatch(/data-kpi="revenue" data-source="gold"/);
    expect(overview).toContain('source: gold');
    const json = JSON.parse((await get(monitor, '/api/live')).body);
    expect(json.live.data.today).toMatchObject({ orders: 12, revenueUsd: '660.00', ordersAwaitingRate: 1 });
    expect(json.live.data.lastHour).toMatchObject({ orders: 5, sessions: 10, convertedSessions: 2 });
  });

  it('serves run history with each run id, its jobs and steps, newest first', async () => {
    const page = await get(monitor, '/runs');
    expect(page.status).toBe(200);
    const newer = page.body.indexOf(`data-run-id="${RUN_NEW}"`);
    const older = page.body.indexOf(`data-run-id="${RUN_OLD}"`);
    expect(newer).toBeGreaterThan(0);
    expect(older).toBeGreaterThan(newer);
    for (const job of ['extract', 'validate', 'load', 'transform'])
      expect(page.body.slice(newer, older)).toContain(`data-job="${job}"`);
    expect(page.body).toContain('boom &lt;b&gt;bold&lt;/b&gt;');
    expect(page.body).toContain('pass 97.3%');
  });

  it('shows operator actions (backfill, rebuild, batch retry/skip/reload) newest first, escaped, in HTML and JSON', async () => {
    const page = await get(monitor, '/runs');
    const reload = page.body.indexOf('data-action="reload"');
    const backfill = page.body.indexOf('data-action="backfill"');
    expect(reload).toBeGreaterThan(0);
    expect(backfill).toBeGreaterThan(reload);
    expect(page.body.slice(reload, backfill)).toContain('rows lost after the backfill');
    expect(page.body.slice(reload, backfill)).toContain('oncall-bo');
    expect(page.body.slice(backfill)).toContain('120 rows re-extracted &lt;i&gt;ok&lt;/i&gt;');
    const json = JSON.parse((await get(monitor, '/api/operations')).body);
    expect(json.actions.data.map((action: { action: string }) => action.action)).toEqual([
      'reload',
      'backfill',
    ]);
    expect(json.actions.data[1]).toMatchObject({ actor: 'oncall-ana', status: 'succeeded' });
  });

  it('serves the data-quality trend and the latest failing checks, escaped', async () => {
    const page = await get(monitor, '/quality');
    expect(page.body.match(/<g class="bar"/g)).toHaveLength(2);
    expect(page.body).toContain('bronze.order_events:schema_drift&lt;script&gt;');
    expect(page.body).not.toContain('schema_drift<script>');
  });

  it('serves the quarantine browser with reasons grouped, filterable, and PII masked in HTML and JSON', async () => {
    const page = await get(monitor, '/quarantine');
    expect(page.body).toMatch(
      /data-reason="status: must be one of pending, shipped, delivered, cancelled"[\s\S]*?>2</,
    );
    expect(page.body).toContain('data-reason="malformed JSON: Unterminated string"');
    const filtered = await get(
      monitor,
      `/quarantine?source=orders&reason=${encodeURIComponent('customer_id: required value is missing')}`,
    );
    expect(filtered.body.match(/<tr data-source="orders" data-batch=/g)).toHaveLength(1);
    expect(filtered.body).toContain('<dd>4686</dd>');
    const json = await get(monitor, '/api/quarantine');
    expect(json.headers.get('content-type')).toContain('application/json');
    for (const body of [page.body, json.body]) {
      expect(body).toContain('j***@example.com');
      expect(body).toContain('b***@example.org');
      for (const secret of ['jane.doe77', 'Jane', 'Baker Street', '7946 0958', 'bob.smith'])
        expect(body).not.toContain(secret);
    }
  });

  it('serves the lineage graph and JSON for every page', async () => {
    expect((await get(monitor, '/lineage')).body).toContain('data-node="gold.agg_daily_sales"');
    for (const path of ['/api/overview', '/api/runs', '/api/quality', '/api/lineage']) {
      const response = await get(monitor, path);
      expect(response.status, path).toBe(200);
      expect(() => JSON.parse(response.body), path).not.toThrow();
    }
    expect(JSON.parse((await get(monitor, '/healthz')).body)).toEqual({ status: 'ok' });
  });

  it('sends same-origin-only, uncached pages with their server timing, and refuses anything but GET', async () => {
    const page = await get(monitor, '/');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('server-timing')).toMatch(/^db;dur=[\d.]+, render;dur=[\d.]+, total;dur=[\d.]+$/);
    expect(page.body).not.toMatch(/(src|href|action)="(https?:)?\/\//);
    for (const asset of ['/assets/monitor.css', '/assets/monitor.js', '/assets/favicon.svg'])
      expect((await get(monitor, asset)).status, asset).toBe(200);
    expect((await get(monitor, '/nope')).status).toBe(404);
    expect((await get(monitor, '/', { method: 'POST', body: 'x' })).status).toBe(405);
    const head = await get(monitor, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});

describe('the monitor as the ecomm_monitor role (readonly-role.sql)', () => {
  let db: SqlDatabase;
  let monitor: RunningMonitor;
  beforeAll(async () => {
    db = await openFixtureWarehouse();
    await db.exec(ROLE_SQL);
    await db.exec(ROLE_SQL); // idempotent
    // A transform after the grant rebuilds a gold table (create __next, drop, rename): it must stay readable.
    await db.exec(`create table gold.agg_daily_sales__next as select * from gold.agg_daily_sales;
      drop table gold.agg_daily_sales; alter table gold.agg_daily_sales__next rename to agg_daily_sales`);
    await db.exec('set role ecomm_monitor');
    monitor = await startMonitor({ warehouse: db, port: 0, now: () => FIXTURE_NOW, onError: () => {} });
  });
  afterAll(async () => {
    await monitor.close();
    await db.close();
  });

  it('renders every page with nothing but its grants', async () => {
    for (const path of ['/', '/live', '/runs', '/quality', '/quarantine', '/lineage']) {
      const page = await get(monitor, path);
      expect(page.status, path).toBe(200);
      expect(page.body, path).not.toContain('Could not read');
      expect(page.body, path).not.toContain('Not built yet');
    }
    expect((await get(monitor, '/')).body).toContain('data-value="1234.56"');
  });

  it('cannot write, nor read bronze or silver, even outside the monitor handle', async () => {
    await expect(db.query("insert into ops.watermarks values ('x', now(), 'b', now())")).rejects.toThrow(
      /read-only transaction|permission denied/,
    );
    await expect(db.query('select count(*) from bronze.orders')).rejects.toThrow(/permission denied/);
    await db.exec('set transaction read write').catch(() => {});
    await expect(db.exec('begin read write; delete from ops.batches; commit')).rejects.toThrow(
      /permission denied/,
    );
    await db.exec('rollback').catch(() => {});
  });
});

describe('the monitor on a warehouse the pipeline has not filled yet', () => {
  it('renders every page, saying what is not built yet instead of failing', async () => {
    const db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
    const monitor = await startMonitor({ warehouse: db, port: 0, onError: () => {} });
    try {
      const overview = await get(monitor, '/');
      expect(overview.status).toBe(200);
      expect(overview.body).toContain('Not built yet');
      expect(overview.body).toContain('no runs yet');
      for (const path of ['/runs', '/quality', '/quarantine', '/lineage'])
        expect((await get(monitor, path)).status, path).toBe(200);
      expect((await get(monitor, '/runs')).body).toContain('No runs recorded');
    } finally {
      await monitor.close();
      await db.close();
    }
  });
});

describe('the KPI tiles’ build time', () => {
  it('is when their own tables were last built: another gold model published while they were held back does not move it', async () => {
    const db = await openFixtureWarehouse();
    try {
      const before = (await loadKpis(db)).goldBuiltAt;
      expect(before).not.toBeNull();
      const later = new Date((before as Date).getTime() + 60_000);
      const record = (step: string, status: string) =>
        db.query(
          `insert into ops.pipeline_runs (run_id, job, step, status, started_at, finished_at, duration_ms)
           values ('held-back-run', 'transform', $1, $2, $3, $3, 0)`,
          [step, status, later],
        );
      await record('gold.dim_customers', 'succeeded');
      await record('gold.agg_daily_sales', 'failed');
      expect((await loadKpis(db)).goldBuiltAt).toEqual(before);
      await record('gold.agg_daily_sales', 'succeeded');
      await record('gold.agg_product_kpi', 'succeeded');
      expect((await loadKpis(db)).goldBuiltAt).toEqual(later);
    } finally {
      await db.close();
    }
  });
});

/** A GET with exactly this Host header (fetch would put the URL's own host there). */
function getWithHost(monitor: RunningMonitor, path: string, host: string) {
  const { port } = new URL(monitor.url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: Number(port), path, method: 'GET', headers: { host } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('the monitor answers only to the host names it knows (DNS rebinding)', () => {
  let db: SqlDatabase;
  let monitor: RunningMonitor;
  beforeAll(async () => {
    db = await openFixtureWarehouse();
    monitor = await startMonitor({
      warehouse: db,
      port: 0,
      now: () => FIXTURE_NOW,
      onError: () => {},
      allowedHosts: ['monitor.data.internal'],
    });
  });
  afterAll(async () => {
    await monitor.close();
    await db.close();
  });

  it('refuses a rebound name with 421 and a message naming the allowed hosts and the setting, pages and API alike', async () => {
    for (const path of ['/api/overview', '/api/quarantine', '/', '/assets/monitor.css']) {
      const refused = await getWithHost(monitor, path, 'attacker.example:8090');
      expect(refused.status, path).toBe(421);
      expect(refused.body).toBe(
        'ecomm monitor: Host "attacker.example:8090" is not a name this monitor answers to ' +
          '(localhost, 127.0.0.1, [::1], monitor.data.internal); add it to MONITOR_ALLOWED_HOSTS if it should be\n',
      );
    }
    expect((await getWithHost(monitor, '/api/overview', 'localhost.attacker.example')).status).toBe(421);
    expect((await getWithHost(monitor, '/api/overview', '127.0.0.1.nip.io')).status).toBe(421);
  });

  it('answers the loopback names, the bound address and the configured names, with or without a port', async () => {
    const { port } = new URL(monitor.url);
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
      'monitor.data.internal',
      `Monitor.Data.Internal.:${port}`,
    ]) {
      const answered = await getWithHost(monitor, '/api/overview', host);
      expect(answered.status, host).toBe(200);
      expect(JSON.parse(answered.body)).toHaveProperty('generatedAt');
    }
  });

  it("answers /healthz whatever the Host: the clouds' probes address the replica by its IP", async () => {
    const probe = await getWithHost(monitor, '/healthz', '10.40.3.17:8090');
    expect(probe.status).toBe(200);
    expect(JSON.parse(probe.body)).toEqual({ status: 'ok' });
  });
});
