import type { ColumnTypeLookup } from '../../sql/dialects/macros.ts';
import { BUSINESS_RULES, type FieldRule, RECORD_RULES } from './business-rules.ts';
import {
  type Checked,
  type ColumnSpec,
  checkCsvCell,
  checkJsonValue,
  MAX_TEXT_BYTES,
  sqlColumnType,
  type TimeWindow,
  type ValueLimits,
} from './column-types.ts';
import { EVENT_TOPICS } from './event-topics.ts';
import { deriveValue, normalisedForDerivation } from './pii.ts';
import { SOURCE_TABLES } from './source-tables.ts';

export { MAX_TEXT_BYTES };

/** How a source's records arrive: CSV text cells from the OLTP extract, or JSON values from event topics. */
export type RecordFormat = 'csv' | 'json';

/**
 * Staged for event sources: the Kafka partition, offset and record timestamp (publish time, ISO-8601). Typed here
 * like any column, so the silver casts of these read the same definitions.
 */
export const STREAM_COLUMN_SPECS: ColumnSpec[] = [
  { name: '_stream_partition', type: 'int' },
  { name: '_stream_offset', type: 'bigint' },
  { name: '_published_at', type: 'timestamptz' },
];
export const STREAM_COLUMNS = STREAM_COLUMN_SPECS.map((column) => column.name);

/** Events above 1 MiB are refused whole (Azure Event Hubs' own cap is 1 MB, MSK's default 1 MiB). */
export const MAX_EVENT_BYTES = 1_048_576;

/**
 * The plausible time window when no setting says otherwise: nothing before 2000, nothing more than a day ahead of
 * the validation time (an order dated 9999-12-31 would otherwise stretch the daily date spine to year 9999).
 */
export const DEFAULT_TIME_WINDOW: TimeWindow = {
  earliest: new Date('2000-01-01T00:00:00Z'),
  maxFutureSeconds: 86_400,
};

/** How a check judges time: the validation time, the default window and per-field windows (`<source>.<field>`). */
export interface CheckOptions {
  now?: Date;
  window?: TimeWindow;
  fieldWindows?: Readonly<Record<string, Partial<TimeWindow>>>;
}

export interface ContractVerdict {
  /** Contract columns as text for staging (null = SQL NULL); meaningful only when reasons is empty. */
  values: (string | null)[];
  /** Every reason the record fails its contract; empty when it passes. */
  reasons: string[];
  /** Fields the contract does not declare, kept rather than dropped (schema drift). */
  rescued: Record<string, unknown> | null;
}

export interface DataContract {
  source: string;
  /** The bronze table the staged rows load into. */
  table: string;
  format: RecordFormat;
  columns: string[];
  /** The declared columns with their types: the one definition the casts and the DDL follow too. */
  specs: ColumnSpec[];
  /** Where each event sat in the stream, staged beside it: lateness is judged against the publish time. */
  streamColumns: string[];
  /** The columns that identify a record (a table's primary key, an event's event_id), for messages. */
  keyColumns: string[];
  /** Columns computed during validation from the declared ones (keyed hashes, masks), staged after them. */
  derivedColumns: string[];
  /** The declared columns holding personal data in clear: they land only in the restricted schema `pii`. */
  piiColumns: string[];
  /**
   * The derived columns' values from a passing record's staged values, hashed with the PII key (HMAC-SHA256).
   * Throws when the contract derives a keyed hash and no key is given.
   */
  derive(values: readonly (string | null)[], piiHashKey: string | undefined): (string | null)[];
  check(record: Record<string, unknown>, options?: CheckOptions): ContractVerdict;
  /** Reasons the staged stream columns (partition, offset, publish time) of an event fail their types. */
  checkStream(values: readonly string[], options?: CheckOptions): string[];
}

/** One column's full check: its type (and window), then its business rule. */
interface FieldCheck {
  column: ColumnSpec;
  check(value: unknown, limits: ValueLimits): Checked;
}

/** The check of one declared field of a source: what the contract runs per value, exposed for tests. */
function fieldCheck(source: string, column: ColumnSpec, format: RecordFormat): FieldCheck {
  const rule: FieldRule | undefined = BUSINESS_RULES[source]?.[column.name];
  const typed =
    format === 'csv'
      ? (value: unknown, limits: ValueLimits): Checked =>
          typeof value === 'string' ? checkCsvCell(column, value, limits) : { reason: 'expected text' }
      : (value: unknown, limits: ValueLimits): Checked => checkJsonValue(column, value, limits);
  return {
    column,
    check(value, limits) {
      const checked = typed(value, limits);
      if (checked.reason !== undefined || !rule || rule.holds(checked.text)) return checked;
      return { reason: rule.message };
    },
  };
}

function buildContract(
  source: string,
  table: string,
  format: RecordFormat,
  specs: ColumnSpec[],
  keyColumns: string[],
): DataContract {
  const fields = specs.map((column) => fieldCheck(source, column, format));
  const names = specs.map((column) => column.name);
  const positions = new Map(names.map((name, index) => [name, index]));
  const recordRules = RECORD_RULES[source] ?? [];
  const declared = new Set(names);
  const limitsFor = windowsOf(source, names);
  const streamLimits = windowsOf(source, STREAM_COLUMNS);
  const derivations = specs.flatMap((column, index) =>
    (column.derived ?? []).map((derived) => ({ column, index, derived })),
  );
  const needsKey = derivations.some(({ derived }) => derived.kind === 'hmac');
  return {
    source,
    table,
    format,
    columns: names,
    specs,
    streamColumns: format === 'json' ? [...STREAM_COLUMNS] : [],
    keyColumns,
    derivedColumns: derivations.map(({ derived }) => derived.name),
    piiColumns: specs.filter((column) => column.pii !== undefined).map((column) => column.name),
    derive(values, piiHashKey) {
      if (needsKey && !piiHashKey)
        throw new Error(
          `the ${source} contract hashes personal data: the PII hash key (PII_HASH_KEY) is needed`,
        );
      return derivations.map(({ column, index, derived }) =>
        deriveValue(
          derived,
          column.pii,
          normalisedForDerivation(column.type, column.pii, values[index] ?? null),
          piiHashKey ?? '',
        ),
      );
    },
    check(record, options = {}) {
      let rescued: Record<string, unknown> | null = null;
      for (const key of Object.keys(record)) {
        if (declared.has(key)) continue;
        rescued ??= {};
        rescued[key] = record[key];
      }
      const limits = limitsFor(options);
      const reasons: string[] = [];
      const values: (string | null)[] = new Array(fields.length);
      for (let index = 0; index < fields.length; index += 1) {
        const field = fields[index] as FieldCheck;
        const value = record[field.column.name];
        if (value === undefined || value === null) {
          if (!field.column.nullable) reasons.push(`${field.column.name}: required value is missing`);
          values[index] = null;
          continue;
        }
        const checked = field.check(value, limits[index] as ValueLimits);
        if (checked.reason !== undefined) reasons.push(`${field.column.name}: ${checked.reason}`);
        else values[index] = checked.text;
      }
      if (rescued && Buffer.byteLength(JSON.stringify(rescued)) > MAX_TEXT_BYTES)
        reasons.push(`_rescued_data: undeclared fields take more than ${MAX_TEXT_BYTES} bytes`);
      if (reasons.length === 0)
        for (const rule of recordRules) {
          const reason = rule((column) => values[positions.get(column) ?? -1] ?? null);
          if (reason !== null) reasons.push(reason);
        }
      if (reasons.length > 0) return { values: [], reasons, rescued };
      return { values, reasons: [], rescued };
    },
    checkStream(streamValues, options = {}) {
      if (format !== 'json') return [];
      const limits = streamLimits(options);
      const reasons: string[] = [];
      STREAM_COLUMN_SPECS.forEach((spec, index) => {
        const checked = checkCsvCell(spec, streamValues[index] ?? '', limits[index] as ValueLimits);
        if (checked.reason !== undefined) reasons.push(`${spec.name}: ${checked.reason}`);
      });
      return reasons;
    },
  };
}

/** Per-column limits for a check, computed once per set of options rather than once per value. */
function windowsOf(source: string, names: string[]): (options: CheckOptions) => ValueLimits[] {
  let cachedFor: CheckOptions | null = null;
  let cachedNow = 0;
  let cached: ValueLimits[] = [];
  return (options) => {
    const now = options.now ?? new Date();
    if (options === cachedFor && now.getTime() === cachedNow) return cached;
    const base = options.window ?? DEFAULT_TIME_WINDOW;
    cached = names.map((name) => ({ ...base, ...options.fieldWindows?.[`${source}.${name}`], now }));
    cachedFor = options;
    cachedNow = now.getTime();
    return cached;
  };
}

export const DATA_CONTRACTS: DataContract[] = [
  ...SOURCE_TABLES.map((table) =>
    buildContract(table.name, table.name, 'csv', table.columns, table.primaryKey),
  ),
  ...EVENT_TOPICS.map((topic) => buildContract(topic.topic, topic.table, 'json', topic.fields, ['event_id'])),
];

export function contractFor(source: string): DataContract {
  const contract = DATA_CONTRACTS.find((entry) => entry.source === source);
  if (!contract) throw new Error(`no data contract for source "${source}"`);
  return contract;
}

/** The bronze table's typed columns (contract columns, then the stream columns of event tables), by table name. */
export function bronzeColumnSpecs(table: string): ColumnSpec[] | undefined {
  const contract = DATA_CONTRACTS.find((entry) => entry.table === table);
  if (!contract) return undefined;
  return contract.format === 'json' ? [...contract.specs, ...STREAM_COLUMN_SPECS] : contract.specs;
}

/** The declared type of a bronze table's column, as the silver casts (`{{ cast_column(table.column) }}`) use it. */
export const columnTypeOf: ColumnTypeLookup = (table, column) => {
  const spec = bronzeColumnSpecs(table)?.find((entry) => entry.name === column);
  return spec ? { kind: spec.type, sqlType: sqlColumnType(spec) } : undefined;
};
