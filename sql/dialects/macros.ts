/**
 * The few SQL helpers whose spelling differs between PostgreSQL and Amazon Redshift. Models call them as
 * `{{ name(arg, …) }}`; expandMacros replaces each call with the engine's SQL before the model runs.
 *
 * One dispatch point per helper: `default` is the PostgreSQL spelling (also PGlite and Azure PostgreSQL),
 * `redshift` overrides it where Redshift differs. Every pair must return the same values, byte for byte, because
 * gold tables are compared across engines (invariant 5: parity).
 */
import type { SqlDialect } from '../../adapters/warehouse/sql-database.ts';

/**
 * What the macros may read besides their arguments. No secret: the PII hashes are HMACs computed while rows are
 * validated (jobs/contracts/pii.ts), so no key is ever spelled in SQL text (a statement log would keep it).
 */
export interface MacroVars {
  /** The declared type of a bronze column (`orders`, `shipping_amount`), for cast_column. */
  columnType?: ColumnTypeLookup;
}

/** What cast_column needs to know of a column's one type definition (jobs/contracts/column-types.ts). */
export interface SqlColumnType {
  kind: 'int' | 'bigint' | 'numeric' | 'text' | 'timestamptz' | 'date' | 'bool';
  /** The typed column's SQL type: `integer`, `numeric(12, 2)`, … */
  sqlType: string;
}

export type ColumnTypeLookup = (table: string, column: string) => SqlColumnType | undefined;

interface MacroDefinition {
  /** Argument names, for error messages and arity checks. */
  params: string[];
  summary: string;
  default: (args: string[], vars: MacroVars) => string;
  redshift?: (args: string[], vars: MacroVars) => string;
}

export const MACROS: Record<string, MacroDefinition> = {
  hash32: {
    params: ['text'],
    summary: 'the first 8 hex digits of md5(text) as an unsigned 32-bit integer (a bigint, 0 to 4294967295)',
    // The key reconciliation sums these per key bucket on the source (always PostgreSQL) and in the warehouse:
    // both sides must compute the same number. Redshift has no bit type; strtol reads the hex digits instead.
    default: ([text]) => `cast(cast('x' || substr(md5(${text}), 1, 8) as bit(32)) as bigint)`,
    redshift: ([text]) => `strtol(substring(md5(${text}), 1, 8), 16)`,
  },
  epoch_micros: {
    params: ['timestamptz'],
    summary: 'a timestamp as whole microseconds since 1970-01-01 00:00:00 UTC, a bigint (exact, no float)',
    // The key reconciliation hashes a version as this number instead of its text: to_char and md5 per row were most
    // of its cost. PostgreSQL's extract(epoch) is an exact numeric; Redshift's is a double (not exact to the
    // microsecond), so it counts microseconds with datediff instead (the session time zone is UTC).
    default: ([timestamp]) => `cast(extract(epoch from ${timestamp}) * 1000000 as bigint)`,
    redshift: ([timestamp]) =>
      `datediff(microsecond, cast('1970-01-01 00:00:00' as timestamp), cast(${timestamp} as timestamp))`,
  },
  version_text: {
    params: ['timestamptz'],
    summary:
      "a timestamp as UTC text to the microsecond, 'YYYY-MM-DD HH24:MI:SS.US' (the session time zone is UTC)",
    default: ([timestamp]) => `to_char(${timestamp}, 'YYYY-MM-DD HH24:MI:SS.US')`,
  },
  bytewise: {
    params: ['text'],
    summary: 'text compared byte by byte in ORDER BY, whatever the database collation',
    // Two sorted key streams (source and warehouse) are merged in the reconciliation: both must sort alike.
    // Redshift compares varchar bytewise already and has no COLLATE clause.
    default: ([text]) => `(${text}) collate "C"`,
    redshift: ([text]) => `${text}`,
  },
  cast_column: {
    params: ['table.column'],
    summary:
      "a bronze text column cast to its declared type (jobs/contracts): trimmed, '' as null; text stays text",
    default: ([reference], vars) =>
      castColumn(reference ?? '', vars, (text) => `cast(${text} as timestamptz)`),
    redshift: ([reference], vars) =>
      castColumn(
        reference ?? '',
        vars,
        (text) => `cast(replace(replace(${text}, 'T', ' '), 'Z', '+00') as timestamptz)`,
      ),
  },
  add_days: {
    params: ['date', 'days'],
    summary: 'date plus an integer number of days, as a date',
    default: ([date, days]) => `cast((${date}) + (${days}) as date)`,
    redshift: ([date, days]) => `cast(dateadd(day, ${days}, ${date}) as date)`,
  },
  days_between: {
    params: ['start_date', 'end_date'],
    summary: 'whole days from start_date to end_date (dates), as an integer',
    default: ([start, end]) => `cast((${end}) - (${start}) as integer)`,
    redshift: ([start, end]) => `cast(datediff(day, ${start}, ${end}) as integer)`,
  },
  seconds_between: {
    params: ['start_at', 'end_at'],
    summary: 'second boundaries crossed from start_at to end_at (timestamps), as a bigint',
    // Redshift's datediff counts boundaries crossed; truncating both ends to the second gives Postgres the same.
    default: ([start, end]) =>
      `cast(extract(epoch from date_trunc('second', ${end})) - extract(epoch from date_trunc('second', ${start})) as bigint)`,
    redshift: ([start, end]) => `cast(datediff(second, ${start}, ${end}) as bigint)`,
  },
};

/**
 * A bronze table's DDL with what finds one batch's rows fast: a load deletes a batch's earlier rows before copying
 * it in, and a failed or skipped batch's rows leave; without this each such delete scans the whole table, and a run's
 * loads grow quadratic in its batches. PostgreSQL gets an index on `_batch_id, _ingested_at` (named in the table's
 * schema): the hourly build's scans of a table's rows per batch and arrival (the incremental feeds, the unchanged
 * check, the batch count check) read that index alone, not the table (index-only, once vacuum has marked the pages
 * visible). It replaces the `_batch_id` index of earlier releases, which is dropped. Redshift has no indexes and sorts
 * the table by `_batch_id` instead (zone maps skip the other blocks). The sort key is given when the table is created;
 * a Redshift table created before it takes `alter table <t> alter compound sortkey (_batch_id)` once.
 */
export function bronzeTableSql(table: string, createSql: string, dialect: SqlDialect): string {
  const create = createSql.trim().replace(/;\s*$/, '');
  if (dialect === 'redshift') return `${create} compound sortkey (_batch_id)`;
  const [schema, name] = table.split('.') as [string, string];
  return [
    create,
    `create index if not exists ${name}__batch_arrival on ${table} (_batch_id, _ingested_at)`,
    `drop index if exists ${schema}.${name}__batch_id`,
  ].join(';\n');
}

/**
 * The statement that serialises writers of one table for the rest of a transaction (loads of a batch, the stream
 * service's incremental silver update, a full rebuild of the same model). PostgreSQL keeps readers running (SHARE
 * ROW EXCLUSIVE conflicts with writers and with itself only); Redshift's LOCK has one mode.
 */
export function lockForWriteSql(table: string, dialect: SqlDialect): string {
  return dialect === 'redshift' ? `lock ${table}` : `lock table ${table} in share row exclusive mode`;
}

/**
 * A table's DDL with its key made fast to find (the realtime KPI tables: jobs/kpis/realtime.ts deletes and writes
 * the keys a round touched): PostgreSQL gets a unique index on the key, which also refuses a key written twice;
 * Redshift, which has no indexes, sorts the table by it.
 */
export function keyedTableSql(table: string, createSql: string, key: string[], dialect: SqlDialect): string {
  const create = createSql.trim().replace(/;\s*$/, '');
  if (dialect === 'redshift') return `${create} compound sortkey (${key.join(', ')})`;
  const indexName = `${table.slice(table.indexOf('.') + 1)}__key`;
  return `${create};\ncreate unique index if not exists ${indexName} on ${table} (${key.join(', ')})`;
}

/**
 * The cast of `table.column` from its bronze text to the declared type. The contract already refused every value
 * this cast could reject or change, so the cast never fails on loaded data (invariant 7).
 */
function castColumn(reference: string, vars: MacroVars, timestamp: (text: string) => string): string {
  const match = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/.exec(reference.trim());
  if (!match) throw new Error(`cast_column expects table.column, got "${reference}"`);
  const [, table, column] = match as unknown as [string, string, string];
  if (!vars.columnType) throw new Error('cast_column needs vars.columnType (the declared column types)');
  const type = vars.columnType(table, column);
  if (!type) throw new Error(`cast_column: bronze.${table} declares no column ${column}`);
  const text = `nullif(trim(${column}), '')`;
  switch (type.kind) {
    case 'text':
      return `trim(${column})`;
    case 'timestamptz':
      return timestamp(text);
    case 'bool':
      return `case when ${text} in ('t', 'true') then true when ${text} in ('f', 'false') then false end`;
    default:
      return `cast(${text} as ${type.sqlType})`;
  }
}

const CALL = /\{\{\s*([a-z_][a-z0-9_]*)\s*\(([\s\S]*?)\)\s*\}\}/gi;

/** Replaces every `{{ macro(args) }}` with the dialect's SQL. Throws on an unknown macro or a wrong arity. */
export function expandMacros(sql: string, dialect: SqlDialect, vars: MacroVars = {}): string {
  const expanded = sql.replace(CALL, (_call, name: string, rawArgs: string) => {
    const macro = MACROS[name.toLowerCase()];
    if (name.toLowerCase() === 'pii_hash')
      throw new Error(
        'pii_hash is gone: a keyed hash in SQL would put the PII key in the statement log; select the hash ' +
          'column derived during validation (customer_key, email_hash, …) instead',
      );
    if (!macro)
      throw new Error(`unknown macro {{ ${name}(…) }}: known macros are ${Object.keys(MACROS).join(', ')}`);
    const args = splitArguments(rawArgs);
    if (args.length !== macro.params.length) {
      throw new Error(`macro ${name} takes (${macro.params.join(', ')}), got ${args.length} argument(s)`);
    }
    const render = (dialect === 'redshift' && macro.redshift) || macro.default;
    return render(args, vars);
  });
  const leftover = /\{\{[\s\S]*?\}\}/.exec(expanded);
  if (leftover) throw new Error(`malformed macro call: ${leftover[0].slice(0, 80)}`);
  return expanded;
}

/** Splits on commas that are outside parentheses and string literals. */
export function splitArguments(raw: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of raw) {
    if (char === "'") quoted = !quoted;
    else if (!quoted && char === '(') depth += 1;
    else if (!quoted && char === ')') depth -= 1;
    if (char === ',' && depth === 0 && !quoted) {
      args.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim() !== '' || args.length > 0) args.push(current.trim());
  return args;
}
