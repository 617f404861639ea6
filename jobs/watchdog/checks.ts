/**
 * The watchdog's check kinds, each turning a rule of rules.ts into findings: freshness against an SLA, daily
 * volume against the table's own trailing days (z-score), null fractions, orphan references and business rules.
 * Every check is one or two aggregate queries run in the warehouse; nothing scans rows in the job's memory.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { IncidentFinding } from '../alerts/incident-rows.ts';
import { isoDate } from '../lake/layout.ts';
import type {
  BusinessRule,
  FreshnessRule,
  NullRule,
  ReferenceRule,
  TableRules,
  VolumeRule,
} from './rules.ts';

export type WatchdogCheckType =
  | 'freshness'
  | 'volume_anomaly'
  | 'null_percentage'
  | 'referential_integrity'
  | 'business_rule'
  | 'abandoned_run'
  | 'stream_retention'
  | 'realtime_reconciliation';

export interface WatchdogFinding extends IncidentFinding {
  checkType: WatchdogCheckType;
  /** ops.dq_findings layer: the table's schema (bronze, silver, gold, ops). */
  layer: string;
  /** The column checked, when the check is about one. */
  column?: string | null;
}

export const VOLUME_DEFAULTS = { windowDays: 14, minHistoryDays: 7, zThreshold: 3 };

type Base = Pick<WatchdogFinding, 'tableName' | 'owner' | 'severity' | 'layer'>;

function base(table: string, owner: string, severity: WatchdogFinding['severity']): Base {
  return { tableName: table, owner, severity, layer: table.split('.')[0] ?? 'unknown' };
}

function failedQuery(error: unknown): string {
  return `check query failed: ${(error as Error).message}`.slice(0, 1000);
}

const minutes = (ms: number) => Math.round(ms / 60_000);

export async function freshnessCheck(
  db: SqlDatabase,
  table: TableRules & { freshness: FreshnessRule },
  now: Date,
): Promise<WatchdogFinding> {
  const rule = table.freshness;
  const finding = {
    ...base(table.table, table.owner, rule.severity),
    checkId: `watchdog:freshness:${table.table}`,
    checkType: 'freshness' as const,
    failingRows: 0,
  };
  let newest: Date | null;
  try {
    const [row] =
      'column' in rule.measure
        ? await db.query<{ newest: unknown }>(
            `select max(${rule.measure.column}) as newest from ${table.table}`,
          )
        : await db.query<{ newest: unknown }>(
            `select max(finished_at) as newest from ops.pipeline_runs
             where job = $1 and step = $2 and status in ('succeeded', 'skipped')`,
            [rule.measure.pipelineStep.job, rule.measure.pipelineStep.step],
          );
    newest = row?.newest === null || row?.newest === undefined ? null : new Date(row.newest as string);
  } catch (error) {
    return { ...finding, passed: false, details: failedQuery(error) };
  }
  const what = 'column' in rule.measure ? 'newest data' : `last successful ${rule.measure.pipelineStep.job}`;
  if (!newest) return { ...finding, passed: false, details: `no ${what} yet (SLA ${rule.slaMinutes} min)` };
  const age = now.getTime() - newest.getTime();
  return {
    ...finding,
    passed: age <= rule.slaMinutes * 60_000,
    details: `${what} ${minutes(Math.max(0, age))} min old at ${newest.toISOString()} (SLA ${rule.slaMinutes} min)`,
  };
}

export interface VolumeVerdict {
  judgedDay: string | null;
  count: number;
  historyDays: number;
  mean: number;
  stddev: number;
  z: number;
  judged: boolean;
  passed: boolean;
}

function addDays(day: string, days: number): string {
  return isoDate(new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000));
}

/**
 * Judges the latest complete day (the newest day with rows, or the one before it when that is today, still
 * filling) against the days before it: z = (count - mean) / sample stddev over up to `windowDays` days, days
 * without rows counting as zero from the table's first day on. Fewer than `minHistoryDays` days: not judged.
 */
export function volumeVerdict(
  counts: Map<string, number>,
  now: Date,
  rule: Partial<VolumeRule> = {},
): VolumeVerdict {
  const windowDays = rule.windowDays ?? VOLUME_DEFAULTS.windowDays;
  const minHistoryDays = rule.minHistoryDays ?? VOLUME_DEFAULTS.minHistoryDays;
  const threshold = rule.zThreshold ?? VOLUME_DEFAULTS.zThreshold;
  const days = [...counts.keys()].sort();
  const empty = { count: 0, historyDays: 0, mean: 0, stddev: 0, z: 0, judged: false, passed: true };
  const first = days[0];
  const last = days[days.length - 1];
  if (!first || !last) return { ...empty, judgedDay: null };
  const judgedDay = last === isoDate(now) ? addDays(last, -1) : last;
  const history: number[] = [];
  for (let offset = windowDays; offset >= 1; offset -= 1) {
    const day = addDays(judgedDay, -offset);
    if (day >= first) history.push(counts.get(day) ?? 0);
  }
  const count = counts.get(judgedDay) ?? 0;
  if (history.length < minHistoryDays) return { ...empty, judgedDay, count, historyDays: history.length };
  const mean = history.reduce((sum, value) => sum + value, 0) / history.length;
  const variance = history.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (history.length - 1);
  const stddev = Math.sqrt(variance);
  const z =
    stddev > 0
      ? (count - mean) / stddev
      : count === mean
        ? 0
        : Math.sign(count - mean) * Number.POSITIVE_INFINITY;
  return {
    judgedDay,
    count,
    historyDays: history.length,
    mean,
    stddev,
    z,
    judged: true,
    passed: Math.abs(z) <= threshold,
  };
}

export async function volumeCheck(
  db: SqlDatabase,
  table: TableRules & { volume: VolumeRule },
  now: Date,
): Promise<WatchdogFinding> {
  const rule = table.volume;
  const finding = {
    ...base(table.table, table.owner, rule.severity),
    checkId: `watchdog:volume:${table.table}`,
    checkType: 'volume_anomaly' as const,
  };
  let counts: Map<string, number>;
  try {
    const day = `cast(${rule.dayExpression} as date)`;
    const rows = await db.query<{ day: string; row_count: unknown }>(
      `select cast(${day} as varchar(10)) as day, count(*) as row_count from ${table.table}
       where ${rule.dayExpression} is not null group by ${day}`,
    );
    counts = new Map(rows.map((row) => [String(row.day), Number(row.row_count)]));
  } catch (error) {
    return { ...finding, passed: false, failingRows: 0, details: failedQuery(error) };
  }
  const verdict = volumeVerdict(counts, now, rule);
  const threshold = rule.zThreshold ?? VOLUME_DEFAULTS.zThreshold;
  if (!verdict.judged) {
    return {
      ...finding,
      passed: true,
      failingRows: 0,
      details: verdict.judgedDay
        ? `not judged: ${verdict.historyDays} day(s) of history before ${verdict.judgedDay}, needs ${rule.minHistoryDays ?? VOLUME_DEFAULTS.minHistoryDays}`
        : 'not judged: no rows',
    };
  }
  return {
    ...finding,
    passed: verdict.passed,
    failingRows: verdict.passed ? 0 : Math.round(Math.abs(verdict.count - verdict.mean)),
    details:
      `${verdict.judgedDay}: ${verdict.count} rows vs ${verdict.mean.toFixed(1)} ± ${verdict.stddev.toFixed(1)} ` +
      `over ${verdict.historyDays} days (z ${Number.isFinite(verdict.z) ? verdict.z.toFixed(2) : String(verdict.z)}, ` +
      `threshold ${threshold})`,
  };
}

export async function nullChecks(
  db: SqlDatabase,
  table: TableRules & { nulls: NullRule },
): Promise<WatchdogFinding[]> {
  const columns = Object.entries(table.nulls.columns);
  const findingOf = (column: string) => ({
    ...base(table.table, table.owner, table.nulls.severity),
    checkId: `watchdog:null_pct:${table.table}.${column}`,
    checkType: 'null_percentage' as const,
    column,
  });
  let row: Record<string, unknown> | undefined;
  try {
    [row] = await db.query(
      `select count(*) as total_rows, ${columns
        .map(([column], index) => `sum(case when ${column} is null then 1 else 0 end) as n${index}`)
        .join(', ')} from ${table.table}`,
    );
  } catch (error) {
    return columns.map(([column]) => ({
      ...findingOf(column),
      passed: false,
      failingRows: 0,
      details: failedQuery(error),
    }));
  }
  const total = Number(row?.total_rows ?? 0);
  return columns.map(([column, maxFraction], index) => {
    const nulls = Number(row?.[`n${index}`] ?? 0);
    const fraction = total === 0 ? 0 : nulls / total;
    return {
      ...findingOf(column),
      passed: fraction <= maxFraction,
      failingRows: nulls,
      details:
        total === 0
          ? 'no rows'
          : `${(fraction * 100).toFixed(2)}% null (${nulls} of ${total}), threshold ${(maxFraction * 100).toFixed(2)}%`,
    };
  });
}

export async function referenceCheck(
  db: SqlDatabase,
  table: TableRules,
  rule: ReferenceRule,
): Promise<WatchdogFinding> {
  const parts = rule.references.split('.');
  const parentColumn = parts.pop() ?? '';
  const parentTable = parts.join('.');
  const finding = {
    ...base(table.table, table.owner, rule.severity),
    checkId: `watchdog:referential_integrity:${table.table}.${rule.column}->${rule.references}`,
    checkType: 'referential_integrity' as const,
    column: rule.column,
  };
  const orphans = `from ${table.table} child
    left join (select distinct ${parentColumn} as parent_key from ${parentTable}) parent
      on child.${rule.column} = parent.parent_key
    where child.${rule.column} is not null and parent.parent_key is null`;
  try {
    const [counted] = await db.query<{ orphans: unknown; total_rows: unknown }>(
      `select count(*) as orphans, (select count(*) from ${table.table}) as total_rows ${orphans}`,
    );
    const count = Number(counted?.orphans ?? 0);
    const total = Number(counted?.total_rows ?? 0);
    const allowed = rule.maxOrphanFraction ?? 0;
    const fraction = total === 0 ? 0 : count / total;
    const samples =
      count === 0
        ? []
        : (
            await db.query<{ sample_key: string }>(
              `select distinct cast(child.${rule.column} as varchar(256)) as sample_key ${orphans} order by 1 limit 5`,
            )
          ).map((sample) => sample.sample_key);
    return {
      ...finding,
      passed: fraction <= allowed,
      failingRows: count,
      details:
        count === 0
          ? null
          : `${count} of ${total} rows (${(fraction * 100).toFixed(2)}%, tolerated ${(allowed * 100).toFixed(2)}%) ` +
            `reference no ${rule.references}, e.g. ${samples.join(', ')}`,
    };
  } catch (error) {
    return { ...finding, passed: false, failingRows: 0, details: failedQuery(error) };
  }
}

export async function businessRuleCheck(db: SqlDatabase, rule: BusinessRule): Promise<WatchdogFinding> {
  const finding = {
    ...base(rule.table, rule.owner, rule.severity),
    checkId: `watchdog:business_rule:${rule.name}`,
    checkType: 'business_rule' as const,
  };
  try {
    const [counted] = await db.query<{ failing: unknown }>(
      `select count(*) as failing from (${rule.sql}) failing_rows`,
    );
    const failing = Number(counted?.failing ?? 0);
    const samples = failing === 0 ? [] : await db.query(`select * from (${rule.sql}) failing_rows limit 3`);
    return {
      ...finding,
      passed: failing === 0,
      failingRows: failing,
      details:
        failing === 0
          ? null
          : `${failing} row(s) break "${rule.description}", e.g. ${samples.map((sample) => JSON.stringify(sample)).join('; ')}`,
    };
  } catch (error) {
    return { ...finding, passed: false, failingRows: 0, details: failedQuery(error) };
  }
}

/** Tables of the bronze, silver, gold and ops schemas that exist now. */
export async function existingTables(db: SqlDatabase): Promise<Set<string>> {
  const rows = await db.query<{ name: string }>(
    `select cast(table_schema as varchar(128)) || '.' || cast(table_name as varchar(128)) as name
     from information_schema.tables where table_schema in ('bronze', 'silver', 'gold', 'ops')`,
  );
  return new Set(rows.map((row) => row.name));
}

/**
 * Every check of the rules. A table that does not exist yet fails its freshness check (if it has one) and skips
 * the others, business rules about it included: there is nothing to measure, and a missing table is exactly what
 * freshness is for.
 */
export async function runChecks(
  db: SqlDatabase,
  now: Date,
  tables: TableRules[],
  rules: BusinessRule[],
): Promise<WatchdogFinding[]> {
  const present = await existingTables(db);
  const findings: WatchdogFinding[] = [];
  for (const table of tables) {
    if (!present.has(table.table)) {
      if (table.freshness) {
        findings.push({
          ...base(table.table, table.owner, table.freshness.severity),
          checkId: `watchdog:freshness:${table.table}`,
          checkType: 'freshness',
          passed: false,
          failingRows: 0,
          details: `table ${table.table} does not exist (SLA ${table.freshness.slaMinutes} min)`,
        });
      }
      continue;
    }
    if (table.freshness)
      findings.push(await freshnessCheck(db, { ...table, freshness: table.freshness }, now));
    if (table.volume) findings.push(await volumeCheck(db, { ...table, volume: table.volume }, now));
    if (table.nulls) findings.push(...(await nullChecks(db, { ...table, nulls: table.nulls })));
    for (const reference of table.references ?? []) {
      const target = reference.references.split('.').slice(0, 2).join('.');
      if (present.has(target)) findings.push(await referenceCheck(db, table, reference));
    }
  }
  for (const rule of rules) {
    if (present.has(rule.table)) findings.push(await businessRuleCheck(db, rule));
  }
  return findings;
}
