import { redactUrl } from '../../adapters/redact.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import type { PipelineResult } from './pipeline.ts';

type Print = (line: string) => void;

const number = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined
    ? '-'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The end-of-run report: what moved, what was rejected and why, whether the data passed, and the headline KPIs. */
export async function printPipelineSummary(
  context: JobContext,
  result: PipelineResult,
  print: Print,
): Promise<void> {
  const db = await context.warehouse();
  print('');
  print(
    `Pipeline run ${context.runId}: ${result.ok ? 'OK' : `BLOCKED (blocking checks failed: ${result.blockedBy.join(', ')}; ${result.blocked.length} model(s) held back)`} in ${(result.wallMs / 1000).toFixed(1)} s`,
  );
  if (result.resumedFrom)
    print(
      `  resumed after the last completed step of run ${result.resumedFrom}; counts below cover ${result.runIds.join(', ')}`,
    );
  print(`  steps: ${result.steps.map(describeStep).join(', ')}`);
  printHeldBack(result, print);
  printFailedBatches(result, print);
  await printRowsPerLayer(db, result, print);
  await printQuarantine(db, result.runIds, print);
  await printQuality(db, result.runIds, print);
  if (!result.blocked.some((model) => model.name === 'gold.agg_daily_sales')) await printKpis(db, print);
  print('');
  print('Where the data lives');
  print(
    `  lake       ${redactUrl(context.config.LAKE_URL)}  (raw/, staging/, quarantine/ by source=<name>/ingestion_date=<day>/)`,
  );
  print(
    `  warehouse  ${redactUrl(context.config.WAREHOUSE_URL)}  (schemas bronze, silver, gold; ops.pipeline_runs, ops.dq_findings)`,
  );
  print(`  source     ${redactUrl(context.config.SOURCE_URL)}`);
  print(`  stream     ${redactUrl(context.config.STREAM_URL)}`);
}

function describeStep(step: PipelineResult['steps'][number]): string {
  if (step.completedBy) return `${step.step} (done by ${step.completedBy})`;
  const retried = step.attempts > 1 ? ` (${step.attempts} attempts)` : '';
  return `${step.step} ${(step.ms / 1000).toFixed(1)}s${retried}`;
}

/** `$1, $2, …`: one placeholder per run id. */
const placeholders = (runIds: string[]) => runIds.map((_, index) => `$${index + 1}`).join(', ');

/** The models a failing blocking check kept from being published, and which check; everything else was published. */
function printHeldBack(result: PipelineResult, print: Print): void {
  if (result.blocked.length === 0) return;
  print('');
  print(
    `Held back: ${result.blocked.length} model(s) not published, their last published tables kept (every other model was published)`,
  );
  for (const model of result.blocked) {
    const how = model.build ? 'built, failed its gate' : 'not built, upstream held back';
    print(`  ${model.name} (${how}): blocked by ${model.blockedBy.join(', ')}`);
  }
}

function printFailedBatches(result: PipelineResult, print: Print): void {
  if (result.failedBatches.length === 0) return;
  print('');
  print(
    `Failed batches held back: ${result.failedBatches.length} (every other batch went on to silver and gold; an alert is queued)`,
  );
  for (const batch of result.failedBatches.slice(0, 10)) {
    print(
      `  ${batch.batch_id} (${batch.source}) failed at ${batch.failed_step}: ${(batch.failure_reason ?? '').slice(0, 300)}`,
    );
  }
  print(
    '  then: ecomm batches list; ecomm batches retry --batch <id> (after a fix) or skip --batch <id> --reason …',
  );
}

/**
 * The tables' row counts: those the run's transform counted as it published them, and the rest counted at once (on
 * a pooled warehouse side by side).
 */
async function tableCounts(
  db: SqlDatabase,
  tables: string[],
  published: Map<string, number>,
): Promise<Map<string, number | null>> {
  const counts = await Promise.all(tables.map((table) => published.get(table) ?? tableCount(db, table)));
  return new Map(tables.map((table, index) => [table, counts[index] ?? null]));
}

async function tableCount(db: SqlDatabase, table: string): Promise<number | null> {
  try {
    const [row] = await db.query<{ n: number }>(`select cast(count(*) as integer) as n from ${table}`);
    return row?.n ?? 0;
  } catch {
    return null; // not built yet (e.g. promotion was blocked)
  }
}

async function printRowsPerLayer(db: SqlDatabase, result: PipelineResult, print: Print): Promise<void> {
  const runIds = result.runIds;
  const validated = await db.query<{
    source: string;
    rows_in: number;
    rows_out: number;
    rows_quarantined: number;
  }>(
    `select step as source, cast(sum(rows_in) as integer) as rows_in, cast(sum(rows_out) as integer) as rows_out,
       cast(sum(rows_quarantined) as integer) as rows_quarantined
     from ops.pipeline_runs where run_id in (${placeholders(runIds)}) and job = 'validate' and status = 'succeeded'
     group by step`,
    runIds,
  );
  print('');
  print('Rows per source and layer (this run: raw -> staged + quarantined; warehouse: totals)');
  // As wide as the longest source name (crm_contact_companies), at least the 14 the OLTP tables and topics need.
  const width = Math.max(14, ...DATA_CONTRACTS.map((contract) => contract.source.length + 1));
  print(
    `  ${'source'.padEnd(width)}${'raw'.padStart(9)}${'staged'.padStart(9)}${'quarant.'.padStart(9)}${'bronze'.padStart(9)}${'silver'.padStart(9)}`,
  );
  const gold = await db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'gold' order by table_name",
  );
  const counts = await tableCounts(
    db,
    [
      ...DATA_CONTRACTS.flatMap((contract) => [`bronze.${contract.table}`, `silver.${contract.table}`]),
      ...gold.map(({ table_name }) => `gold.${table_name}`),
    ],
    result.publishedRows,
  );
  for (const contract of DATA_CONTRACTS) {
    const run = validated.find((row) => row.source === contract.source);
    const bronze = counts.get(`bronze.${contract.table}`) ?? null;
    const silver = counts.get(`silver.${contract.table}`) ?? null;
    print(
      `  ${contract.source.padEnd(width)}${number(run?.rows_in ?? 0).padStart(9)}${number(run?.rows_out ?? 0).padStart(9)}` +
        `${number(run?.rows_quarantined ?? 0).padStart(9)}${number(bronze).padStart(9)}${number(silver).padStart(9)}`,
    );
  }
  const goldCounts = gold.map(
    ({ table_name }) => `${table_name} ${number(counts.get(`gold.${table_name}`) ?? null)}`,
  );
  print(`  gold: ${goldCounts.join(', ') || '(not built)'}`);
}

async function printQuarantine(db: SqlDatabase, runIds: string[], print: Print): Promise<void> {
  const reasons = await db.query<{ source: string; reasons: string; n: number }>(
    // A parser's message names the byte where it gave up; the summary counts the kind of failure.
    `with reasons as (
       select q.source,
         case when q.reasons like 'malformed JSON:%' then 'malformed JSON' else q.reasons end as reasons
       from ops.quarantine_rows q
       where q.batch_id in (select batch_id from ops.pipeline_runs
         where run_id in (${placeholders(runIds)}) and job = 'validate')
     )
     select source, reasons, cast(count(*) as integer) as n
     from reasons group by source, reasons order by n desc, source, reasons limit 8`,
    runIds,
  );
  const total =
    reasons.length === 0
      ? 0
      : ((
          await db.query<{ n: number }>(
            `select cast(count(*) as integer) as n from ops.quarantine_rows q
     where q.batch_id in (select batch_id from ops.pipeline_runs
       where run_id in (${placeholders(runIds)}) and job = 'validate')`,
            runIds,
          )
        )[0]?.n ?? 0);
  print('');
  print(`Quarantined this run: ${number(total)} rows${total > 0 ? '; top reasons:' : ''}`);
  for (const row of reasons) print(`  ${number(row.n).padStart(6)}  ${row.source}: ${row.reasons}`);
}

async function printQuality(db: SqlDatabase, runIds: string[], print: Print): Promise<void> {
  const findings = await db.query<{
    check_id: string;
    severity: string;
    status: string;
    failing_rows: number;
    details: string | null;
  }>(
    // A check run by several attempts of a resumed run counts once, with its latest verdict.
    `select check_id, severity, status, failing_rows, details from (
       select check_id, severity, status, cast(failing_rows as integer) as failing_rows, details,
         row_number() over (partition by check_id order by checked_at desc) as recency
       from ops.dq_findings where run_id in (${placeholders(runIds)})
     ) latest
     where recency = 1 order by check_id`,
    runIds,
  );
  const failed = findings.filter((finding) => finding.status === 'fail');
  const blocking = failed.filter((finding) => finding.severity === 'blocking');
  print('');
  print(
    `Quality checks: ${findings.length - failed.length} passed, ${failed.length} failed (${blocking.length} blocking)`,
  );
  for (const finding of failed.slice(0, 10)) {
    print(
      `  ${finding.severity === 'blocking' ? 'FAIL' : 'warn'} ${finding.check_id} (${finding.failing_rows} rows)${finding.details ? `: ${finding.details}` : ''}`,
    );
  }
}

async function printKpis(db: SqlDatabase, print: Print): Promise<void> {
  const [day] = await db.query<{
    order_date: string;
    revenue_usd: number;
    order_count: number;
    aov_usd: number;
    new_customers: number;
  }>(
    `select cast(order_date as varchar(10)) as order_date, cast(revenue_usd as float) as revenue_usd,
       cast(order_count as integer) as order_count, cast(aov_usd as float) as aov_usd,
       cast(new_customers as integer) as new_customers
     from gold.agg_daily_sales order by order_date desc limit 1`,
  );
  print('');
  if (!day) {
    print('Headline KPIs: no sales yet');
    return;
  }
  print(`Headline KPIs for ${day.order_date} (last day with sales, USD)`);
  print(
    `  revenue ${number(day.revenue_usd, 2)}   orders ${number(day.order_count)}   AOV ${number(day.aov_usd, 2)}   new customers ${number(day.new_customers)}`,
  );
}
