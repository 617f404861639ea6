import { describe, expect, it } from 'vitest';
import { qualityTrendChart } from './charts.ts';
import { renderFreshness, renderHeldBatches, renderJobStatuses, renderKpis } from './overview-view.ts';
import { renderPage } from './page.ts';
import { renderQualityDetails } from './quality-view.ts';
import type { Quarantine } from './quarantine-queries.ts';
import { renderQuarantine } from './quarantine-view.ts';
import { type Freshness, type JobStatus, type Kpis, runStateOf } from './queries.ts';
import type { Quality, RunSummary } from './run-queries.ts';
import { renderRunHistory } from './runs-view.ts';
import { PII_RECORD } from './test-fixtures.ts';

const now = new Date('2026-10-01T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

describe('overview renderers', () => {
  const kpis: Kpis = {
    days: [
      { orderDate: '2026-09-29', revenueUsd: '1000.00', orderCount: 10, aovUsd: '100.00', newCustomers: 4 },
      { orderDate: '2026-09-30', revenueUsd: '1234.56', orderCount: 15, aovUsd: '82.30', newCustomers: 3 },
    ],
    topCategories: [{ category: 'home & <kitchen>', revenueUsd: '700.00', unitsSold: 2 }],
    categoryWindow: { from: '2026-09-24', to: '2026-09-30' },
    goldBuiltAt: minutesAgo(27),
  };

  it('shows the last day in the KPI tiles, with the change against the day before and the refresh time', () => {
    const out = renderKpis(kpis, now).value;
    expect(out).toContain('data-kpi="revenue"');
    expect(out).toMatch(/data-value="1234.56">\$1,234.56</);
    expect(out).toMatch(/data-kpi="orders"[\s\S]*?data-value="15">15</);
    expect(out).toMatch(/data-value="82.30">\$82.30</);
    expect(out).toMatch(/data-kpi="new-customers"[\s\S]*?data-value="3">3</);
    expect(out).toContain('▲ 23.5% vs previous day');
    expect(out).toContain(
      'gold built <time datetime="2026-10-01T11:33:00.000Z">2026-10-01 11:33:00 UTC</time> (27 min ago)',
    );
    expect(out).toContain('home &amp; &lt;kitchen&gt;');
    expect(out).not.toContain('<kitchen>');
  });

  it('lists held-back batches with their state, step, time and reason, or says none is held back', () => {
    const out = renderHeldBatches(
      {
        batches: [
          {
            batchId: 'orders_x',
            source: 'orders',
            kind: 'table',
            status: 'failed',
            rowsRaw: 1200,
            failedAt: minutesAgo(12),
            failedStep: 'validate',
            reason: 'raw object <raw/x.csv> is not valid gzip',
            skippedAt: null,
            skipReason: null,
          },
        ],
        failed: 1,
        skipped: 4,
      },
      now,
    ).value;
    expect(out).toContain('<strong>1 failed</strong>, 4 skipped (1 shown)');
    expect(out).toMatch(/data-batch="orders_x" data-status="failed"[\s\S]*?badge-fail">failed/);
    expect(out).toContain('<td>validate</td>');
    expect(out).toContain('12 min ago');
    expect(out).toContain('1,200');
    expect(out).toContain('raw object &lt;raw/x.csv&gt; is not valid gzip');
    expect(renderHeldBatches({ batches: [], failed: 0, skipped: 0 }, now).value).toContain(
      'No batch is held back',
    );
  });

  it('says so when gold holds no sales yet', () => {
    expect(renderKpis({ ...kpis, days: [] }, now).value).toContain('No sales in gold yet');
  });

  it('lists each job with its state, rows and an escaped failure message', () => {
    const jobs: JobStatus[] = [
      {
        job: 'transform',
        kind: 'scheduled',
        schedule: '35 * * * *',
        runId: 'abcdef01-0000-4000-8000-000000000000',
        state: 'partial',
        startedAt: minutesAgo(10),
        finishedAt: minutesAgo(8),
        steps: 4,
        failedSteps: 1,
        rowsIn: null,
        rowsOut: 1234,
        rowsQuarantined: null,
        message: 'relation "<gold>" failed',
      },
      {
        job: 'quality',
        kind: 'manual',
        schedule: null,
        runId: null,
        state: 'never',
        startedAt: null,
        finishedAt: null,
        steps: 0,
        failedSteps: 0,
        rowsIn: null,
        rowsOut: null,
        rowsQuarantined: null,
        message: null,
      },
    ];
    const out = renderJobStatuses(jobs, now).value;
    expect(out).toContain('badge-warn">partial');
    expect(out).toContain('1/4 steps failed');
    expect(out).toContain('2 min 00 s');
    expect(out).toContain('1,234');
    expect(out).toContain('relation &quot;&lt;gold&gt;&quot; failed');
    expect(out).toContain('no runs yet');
  });

  it('flags sources and gold past their freshness SLA', () => {
    const freshness: Freshness = {
      sources: [
        {
          source: 'orders',
          kind: 'table',
          table: 'bronze.orders',
          lastExtractedAt: minutesAgo(31),
          lastLoadedAt: minutesAgo(30),
          watermarkAt: null,
          batches: 2,
          slaMinutes: 75,
          ageMinutes: 30,
          state: 'ok',
        },
        {
          source: 'clickstream',
          kind: 'topic',
          table: 'bronze.clickstream_events',
          lastExtractedAt: null,
          lastLoadedAt: minutesAgo(9),
          watermarkAt: null,
          batches: 1,
          slaMinutes: 5,
          ageMinutes: 9,
          state: 'late',
        },
      ],
      gold: { builtAt: null, slaMinutes: 75, ageMinutes: null, state: 'never' },
    };
    const out = renderFreshness(freshness, now).value;
    expect(out).toMatch(/data-freshness="orders"[\s\S]*?within SLA/);
    expect(out).toMatch(/data-freshness="clickstream"[\s\S]*?badge-warn">late/);
    expect(out).toContain('never built');
    expect(out).toContain('2 behind their SLA');
  });
});

describe('run history renderer', () => {
  it('lists each run with its jobs and every step, the newest open', () => {
    const run: RunSummary = {
      runId: '22222222-2222-4222-8222-222222222222',
      startedAt: minutesAgo(30),
      finishedAt: minutesAgo(26),
      jobs: ['extract', 'validate'],
      state: 'succeeded',
      steps: [
        {
          job: 'extract',
          step: 'orders',
          batchId: 'orders_new',
          status: 'succeeded',
          startedAt: minutesAgo(30),
          finishedAt: minutesAgo(29),
          durationMs: 1500,
          rowsIn: 100,
          rowsOut: 100,
          rowsQuarantined: null,
          message: null,
        },
        {
          job: 'validate',
          step: 'orders',
          batchId: 'orders_new',
          status: 'succeeded',
          startedAt: minutesAgo(29),
          finishedAt: minutesAgo(28),
          durationMs: 900,
          rowsIn: 100,
          rowsOut: 97,
          rowsQuarantined: 3,
          message: null,
        },
      ],
      validation: { rowsIn: 100, rowsOut: 97, rowsQuarantined: 3 },
      checks: { passed: 10, failedWarn: 1, failedBlocking: 0 },
    };
    const out = renderRunHistory([run, { ...run, runId: 'older', state: 'failed' }], now).value;
    expect(out).toContain(
      '<details class="run" id="run-22222222-2222-4222-8222-222222222222" data-run-id="22222222-2222-4222-8222-222222222222" open>',
    );
    expect(out).toContain('<details class="run" id="run-older" data-run-id="older">');
    expect(out).toContain(
      '<span class="chip" data-job="extract">extract</span><span class="chip" data-job="validate">validate</span>',
    );
    expect(out).toContain('pass 97%');
    expect(out).toContain('1 warn');
    expect(out).toContain('4 min 00 s');
    expect(renderRunHistory([], now).value).toContain('No runs recorded');
  });
});

describe('run states', () => {
  it('shows a run still running, and a run that died as abandoned, before any count of failed steps', () => {
    expect(runStateOf({ failed: 0, running: 1, abandoned: 0, total: 3 })).toBe('running');
    expect(runStateOf({ failed: 2, running: 0, abandoned: 1, total: 3 })).toBe('abandoned');
    expect(runStateOf({ failed: 1, running: 0, abandoned: 0, total: 3 })).toBe('partial');
    const step = {
      job: 'run',
      step: 'pipeline',
      batchId: null,
      startedAt: minutesAgo(30),
      finishedAt: null,
      durationMs: null,
      rowsIn: null,
      rowsOut: null,
      rowsQuarantined: null,
    };
    const run = (runId: string, state: RunSummary['state'], status: string, message: string | null) => ({
      runId,
      startedAt: minutesAgo(30),
      finishedAt: null,
      jobs: ['run'],
      state,
      steps: [{ ...step, status, message }],
      validation: null,
      checks: null,
    });
    const out = renderRunHistory(
      [
        run('live', 'running', 'running', null),
        run('dead', 'abandoned', 'abandoned', 'abandoned: no heartbeat since 2026-10-01T10:00:00.000Z'),
      ],
      now,
    ).value;
    expect(out).toMatch(/data-run-id="live"[\s\S]*?badge-idle">running</);
    expect(out).toMatch(/data-run-id="dead"[\s\S]*?badge-fail">abandoned</);
    expect(out).toContain('abandoned: no heartbeat since 2026-10-01T10:00:00.000Z');
  });
});

describe('data-quality renderers', () => {
  const trend = [
    { runId: 'r1', checkedAt: minutesAgo(120), passed: 8, failedWarn: 1, failedBlocking: 1 },
    { runId: 'r2', checkedAt: minutesAgo(60), passed: 10, failedWarn: 0, failedBlocking: 0 },
    { runId: 'r3', checkedAt: minutesAgo(1), passed: 9, failedWarn: 1, failedBlocking: 0 },
  ];

  it('draws one stacked bar per run, one rectangle per non-zero count, with the numbers in a title', () => {
    const svg = qualityTrendChart(trend).value;
    expect(svg.match(/<g class="bar"/g)).toHaveLength(3);
    expect(svg.match(/<rect class="bar-pass"/g)).toHaveLength(3);
    expect(svg).toContain('<span class="swatch bar-fail"></span>failed (blocking)');
    expect(svg.match(/<rect class="bar-fail"/g)).toHaveLength(1);
    expect(svg).toContain(
      'run r1 at 2026-10-01 10:00:00 UTC: 8 passed, 1 failed (warn), 1 failed (blocking)',
    );
    expect(qualityTrendChart([]).value).toContain('No data-quality checks recorded yet');
  });

  it('lists the latest run failing checks with their severity, escaped', () => {
    const quality: Quality = {
      trend,
      latestRunId: 'r3',
      latest: [
        {
          checkId: 'bronze.x:<drift>',
          layer: 'bronze',
          tableName: 'bronze.x',
          checkType: 'schema_drift',
          severity: 'warn',
          status: 'fail',
          failingRows: 5,
          details: 'a & b',
          checkedAt: minutesAgo(1),
        },
        {
          checkId: 'silver.y:unique',
          layer: 'silver',
          tableName: 'silver.y',
          checkType: 'unique',
          severity: 'blocking',
          status: 'pass',
          failingRows: 0,
          details: null,
          checkedAt: minutesAgo(1),
        },
      ],
      recurring: [
        { checkId: 'bronze.x:<drift>', severity: 'warn', failedRuns: 2, lastFailedAt: minutesAgo(1) },
      ],
    };
    const out = renderQualityDetails(quality).value;
    expect(out).toContain('<strong>bronze</strong> 0/1 passed');
    expect(out).toContain('<strong>silver</strong> 1/1 passed');
    expect(out).toContain('bronze.x:&lt;drift&gt;');
    expect(out).not.toContain('<drift>');
    expect(out).toContain('a &amp; b');
    expect(out).toContain('2 / 3');
    expect(out).not.toContain('silver.y:unique</code>');
  });
});

describe('quarantine renderer', () => {
  const quarantine: Quarantine = {
    sources: [{ source: 'customers', rowsRaw: 50, rowsQuarantined: 1, batches: 1 }],
    groups: [
      {
        source: 'customers',
        reason: 'loyalty_tier: must be one of bronze, silver, gold',
        rows: 1,
        batches: 1,
        lastSeenAt: minutesAgo(5),
      },
    ],
    filter: {},
    samples: [
      {
        batchId: 'customers_new',
        source: 'customers',
        rowNumber: 3,
        reasons: 'loyalty_tier: must be one of bronze, silver, gold; email: jane.doe77@example.com is odd',
        record: JSON.stringify(PII_RECORD),
        quarantinedAt: minutesAgo(5),
      },
    ],
  };

  it('shows counts per source and reason, with links that filter the samples', () => {
    const out = renderQuarantine(quarantine, now).value;
    expect(out).toMatch(/data-source="customers"[\s\S]*?>50<[\s\S]*?>1<[\s\S]*?>2%</);
    expect(out).toContain(
      'href="/quarantine?source=customers&amp;reason=loyalty_tier%3A+must+be+one+of+bronze%2C+silver%2C+gold#samples"',
    );
  });

  it('shows sample rows with PII masked, the failing field marked, and never the clear values', () => {
    const out = renderQuarantine(quarantine, now).value;
    expect(out).toContain('<dt>email</dt><dd>j***@example.com</dd>');
    expect(out).toContain('<dt>phone</dt><dd>***58</dd>');
    expect(out).toContain('<div class="bad-field"><dt>loyalty_tier</dt><dd>platinum-plus</dd></div>');
    for (const secret of ['jane.doe77', 'Jane', '>Doe<', 'Baker', '7946 0958'])
      expect(out).not.toContain(secret);
  });
});

describe('page frame', () => {
  it('links only to its own origin, refreshes itself within 60 s, and marks the current page', () => {
    const out = renderPage(
      { path: '/quality', generatedAt: now, refreshSeconds: 30, warehouse: 'pglite://memory' },
      renderKpis({ days: [], topCategories: [], categoryWindow: null, goldBuiltAt: null }, now),
    ).value;
    expect(out).toContain('<a href="/quality" aria-current="page">Data quality</a>');
    expect(out).toContain('<script src="/assets/monitor.js" defer></script>');
    expect(out).toContain('<noscript><meta http-equiv="refresh" content="60"></noscript>');
    expect(out).toContain('data-refresh-seconds="30"');
    expect(out).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
