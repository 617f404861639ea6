/**
 * What the monitor reads, one small bounded query per question. Everything aggregates in SQL and ends in a LIMIT,
 * so a page costs the same whether the warehouse holds one run or a year of them. Only `ops` and `gold` are
 * read (the grants of the `ecomm_monitor` role). The SQL stays inside what PostgreSQL and Redshift both accept.
 * This file: the section wrapper and the overview (job status, KPIs, freshness); run history and quality are in
 * run-queries.ts, the quarantine browser in quarantine-queries.ts.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { JOB_CATALOG } from '../catalog.ts';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { FRESHNESS_SLA_MINUTES } from '../quality/index.ts';

/** A section's data, or why it could not be read (a gold table not built yet, a lost connection). */
export type Section<T> = { ok: true; data: T } | { ok: false; error: string };

/** Runs one section in its own read-only transaction, so one missing table blanks one section, not the page. */
export async function section<T>(
  db: SqlDatabase,
  load: (tx: SqlDatabase) => Promise<T>,
): Promise<Section<T>> {
  try {
    return { ok: true, data: await db.transaction(load) };
  } catch (error) {
    return { ok: false, error: (error as Error).message ?? String(error) };
  }
}

export const toDate = (value: unknown): Date | null =>
  value === null || value === undefined ? null : value instanceof Date ? value : new Date(String(value));
export const toNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
export const toInt = (value: unknown): number => Number(value ?? 0);

// ---------------------------------------------------------------------------------------------------------------
// Pipeline status: the latest run of every job.

/**
 * `running`: a run row is still running (its heartbeat is fresh, or nobody has checked yet); `abandoned`: its
 * process died and the next run or the watchdog marked it so (ops.pipeline_runs, jobs/ops/run-lease.ts).
 */
export type RunState = 'succeeded' | 'failed' | 'partial' | 'never' | 'running' | 'abandoned';

/** A run's state from its steps' statuses: a dead or unfinished run says so before any count of failed steps. */
export function runStateOf(statuses: {
  failed: number;
  running: number;
  abandoned: number;
  total: number;
}): RunState {
  if (statuses.abandoned > 0) return 'abandoned';
  if (statuses.running > 0) return 'running';
  if (statuses.failed === 0) return 'succeeded';
  return statuses.failed === statuses.total ? 'failed' : 'partial';
}

export interface JobStatus {
  job: string;
  kind: string | null;
  schedule: string | null;
  runId: string | null;
  state: RunState;
  startedAt: Date | null;
  finishedAt: Date | null;
  steps: number;
  failedSteps: number;
  rowsIn: number | null;
  rowsOut: number | null;
  rowsQuarantined: number | null;
  /** The first failed step's message, when a step failed. */
  message: string | null;
}

/** Jobs the status table always lists (in DAG order), even before their first run; the rest follow by name. */
const LISTED_JOBS = JOB_CATALOG.filter((job) => !['generate', 'monitor'].includes(job.name));

export async function loadJobStatuses(db: SqlDatabase): Promise<JobStatus[]> {
  const rows = await db.query<Record<string, unknown>>(
    `with runs as (
       select job, run_id, min(started_at) as started_at, max(finished_at) as finished_at,
         count(*) as steps,
         sum(case when status = 'failed' then 1 else 0 end) as failed_steps,
         sum(case when status = 'running' then 1 else 0 end) as running_steps,
         sum(case when status = 'abandoned' then 1 else 0 end) as abandoned_steps,
         sum(rows_in) as rows_in, sum(rows_out) as rows_out, sum(rows_quarantined) as rows_quarantined,
         max(case when status = 'failed' then substring(message, 1, 300) end) as message
       from ops.pipeline_runs
       group by job, run_id
     ),
     ranked as (
       select runs.*, row_number() over (partition by job order by started_at desc, run_id desc) as position
       from runs
     )
     select job, run_id, started_at, finished_at, cast(steps as integer) as steps,
       cast(failed_steps as integer) as failed_steps, cast(running_steps as integer) as running_steps,
       cast(abandoned_steps as integer) as abandoned_steps, cast(rows_in as bigint) as rows_in,
       cast(rows_out as bigint) as rows_out, cast(rows_quarantined as bigint) as rows_quarantined, message
     from ranked where position = 1
     order by job
     limit 100`,
  );
  const byJob = new Map(rows.map((row) => [String(row.job), row]));
  const jobs = [
    ...LISTED_JOBS.map((job) => job.name),
    ...[...byJob.keys()].filter((job) => !findListed(job)),
  ];
  return jobs.map((job): JobStatus => {
    const spec = LISTED_JOBS.find((entry) => entry.name === job);
    const row = byJob.get(job);
    if (!row) {
      return {
        job,
        kind: spec?.kind ?? null,
        schedule: spec?.schedule ?? null,
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
      };
    }
    const steps = toInt(row.steps);
    const failedSteps = toInt(row.failed_steps);
    return {
      job,
      kind: spec?.kind ?? null,
      schedule: spec?.schedule ?? null,
      runId: String(row.run_id),
      state: runStateOf({
        failed: failedSteps,
        running: toInt(row.running_steps),
        abandoned: toInt(row.abandoned_steps),
        total: steps,
      }),
      startedAt: toDate(row.started_at),
      finishedAt: toDate(row.finished_at),
      steps,
      failedSteps,
      rowsIn: toNumber(row.rows_in),
      rowsOut: toNumber(row.rows_out),
      rowsQuarantined: toNumber(row.rows_quarantined),
      message: row.message === null || row.message === undefined ? null : String(row.message),
    };
  });
}

const findListed = (job: string) => LISTED_JOBS.some((entry) => entry.name === job);

// ---------------------------------------------------------------------------------------------------------------
// KPI tiles: gold.agg_daily_sales and gold.agg_product_kpi.

export interface DailyKpi {
  /** YYYY-MM-DD (UTC order date). */
  orderDate: string;
  /** Decimal text exactly as the warehouse holds it (numeric(18,2)). */
  revenueUsd: string;
  orderCount: number;
  aovUsd: string | null;
  newCustomers: number;
}

export interface CategoryRevenue {
  category: string;
  revenueUsd: string;
  unitsSold: number;
}

export interface Kpis {
  /** Up to the last 30 order dates, oldest first; the last one is what the tiles show. */
  days: DailyKpi[];
  topCategories: CategoryRevenue[];
  /** The order dates (inclusive) the top categories cover: the 7 days ending on the last order date. */
  categoryWindow: { from: string; to: string } | null;
  /** When the tiles' gold tables were last built (the older of their last successful `transform` builds). */
  goldBuiltAt: Date | null;
}

/** The gold tables the KPI tiles read. */
const KPI_TABLES = ['gold.agg_daily_sales', 'gold.agg_product_kpi'];

export const KPI_DAYS = 30;
export const TOP_CATEGORY_DAYS = 7;

export async function loadKpis(db: SqlDatabase): Promise<Kpis> {
  const days = (
    await db.query<Record<string, unknown>>(
      `select cast(order_date as varchar(10)) as order_date, revenue_usd, cast(order_count as integer) as order_count,
         aov_usd, cast(new_customers as integer) as new_customers
       from gold.agg_daily_sales
       order by order_date desc
       limit ${KPI_DAYS}`,
    )
  )
    .map(
      (row): DailyKpi => ({
        orderDate: String(row.order_date),
        revenueUsd: String(row.revenue_usd ?? '0'),
        orderCount: toInt(row.order_count),
        aovUsd: row.aov_usd === null || row.aov_usd === undefined ? null : String(row.aov_usd),
        newCustomers: toInt(row.new_customers),
      }),
    )
    .reverse();
  const last = days.at(-1);
  let topCategories: CategoryRevenue[] = [];
  let categoryWindow: Kpis['categoryWindow'] = null;
  if (last) {
    const to = last.orderDate;
    const from = addDays(to, -(TOP_CATEGORY_DAYS - 1));
    categoryWindow = { from, to };
    topCategories = (
      await db.query<Record<string, unknown>>(
        `select category, cast(sum(revenue_usd) as numeric(18, 2)) as revenue_usd,
           cast(sum(units_sold) as integer) as units_sold
         from gold.agg_product_kpi
         where order_date >= cast($1 as date) and order_date <= cast($2 as date)
         group by category
         order by 2 desc, category
         limit 5`,
        [from, to],
      )
    ).map((row) => ({
      category: String(row.category),
      revenueUsd: String(row.revenue_usd ?? '0'),
      unitsSold: toInt(row.units_sold),
    }));
  }
  // The tiles are as fresh as the older of their two tables: a blocking check may hold one back while the rest of
  // gold is published, so another gold model's build says nothing about them.
  const [built] = await db.query<{ built_at: unknown }>(
    `select min(built_at) as built_at from (
       select step, max(finished_at) as built_at from ops.pipeline_runs
       where job = 'transform' and status = 'succeeded' and step in (${KPI_TABLES.map((table) => `'${table}'`).join(', ')})
       group by step
     ) kpi_builds`,
  );
  return { days, topCategories, categoryWindow, goldBuiltAt: toDate(built?.built_at) };
}

export function addDays(isoDate: string, days: number): string {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------------------------
// Freshness: each source's last load into bronze against its SLA; gold's last build against the batch SLA.

export type FreshnessState = 'ok' | 'late' | 'never';

export interface SourceFreshness {
  source: string;
  kind: 'table' | 'topic';
  table: string;
  lastExtractedAt: Date | null;
  lastLoadedAt: Date | null;
  /** For OLTP tables: every row updated up to this time is extracted (ops.watermarks). */
  watermarkAt: Date | null;
  batches: number;
  slaMinutes: number;
  ageMinutes: number | null;
  state: FreshnessState;
}

export interface Freshness {
  sources: SourceFreshness[];
  gold: { builtAt: Date | null; slaMinutes: number; ageMinutes: number | null; state: FreshnessState };
}

export function freshnessState(at: Date | null, now: Date, slaMinutes: number) {
  const ageMinutes = at ? (now.getTime() - at.getTime()) / 60_000 : null;
  const state: FreshnessState = ageMinutes === null ? 'never' : ageMinutes <= slaMinutes ? 'ok' : 'late';
  return { ageMinutes, state };
}

export async function loadFreshness(
  db: SqlDatabase,
  now: Date,
  goldBuiltAt: Date | null,
): Promise<Freshness> {
  const batches = await db.query<Record<string, unknown>>(
    `select source, max(extracted_at) as last_extracted_at, max(loaded_at) as last_loaded_at,
       cast(count(*) as integer) as batches
     from ops.batches group by source order by source limit 200`,
  );
  const watermarks = await db.query<Record<string, unknown>>(
    'select source, max(watermark_at) as watermark_at from ops.watermarks group by source limit 200',
  );
  const bySource = new Map(batches.map((row) => [String(row.source), row]));
  const watermarkOf = new Map(watermarks.map((row) => [String(row.source), toDate(row.watermark_at)]));
  // A further source with no batch at all is not in use here (its setting unset): no row, rather than "never loaded".
  const inUse = DATA_CONTRACTS.filter(
    (contract) => contract.optionalSetting === undefined || bySource.has(contract.source),
  );
  const sources = inUse.map((contract): SourceFreshness => {
    const row = bySource.get(contract.source);
    const kind = contract.format === 'csv' ? 'table' : 'topic';
    const slaMinutes = FRESHNESS_SLA_MINUTES[kind];
    const lastLoadedAt = toDate(row?.last_loaded_at);
    return {
      source: contract.source,
      kind,
      table: `bronze.${contract.table}`,
      lastExtractedAt: toDate(row?.last_extracted_at),
      lastLoadedAt,
      watermarkAt: watermarkOf.get(contract.source) ?? null,
      batches: toInt(row?.batches),
      slaMinutes,
      ...freshnessState(lastLoadedAt, now, slaMinutes),
    };
  });
  const slaMinutes = FRESHNESS_SLA_MINUTES.table;
  return {
    sources,
    gold: { builtAt: goldBuiltAt, slaMinutes, ...freshnessState(goldBuiltAt, now, slaMinutes) },
  };
}
