import type { ColumnTypeLookup } from '../../sql/dialects/macros.ts';
import { BUSINESS_RULES, type FieldRule, RECORD_RULES } from './business-rules.ts';
import {
  type ColumnSpec,
  checkInstant,
  csvCellCheck,
  jsonValueCheck,
  MAX_TEXT_BYTES,
  type Rejection,
  sqlColumnType,
  type TimeWindow,
  type ValueCheck,
  type ValueLimits,
} from './column-types.ts';
import { CRM_STREAMS } from './crm-streams.ts';
import { EVENT_TOPICS } from './event-topics.ts';
import { HISTORY_STREAMS } from './history-streams.ts';
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
const PUBLISHED_AT = STREAM_COLUMNS.indexOf('_published_at');
/** checkStream's answer when every stream value passes: one frozen list, not one per event. */
const NO_REASONS: readonly string[] = Object.freeze([]);

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
  /**
   * The setting of the further source it comes from (CRM_SOURCE_URL, HISTORY_SOURCE_URL); absent for the OLTP tables
   * and the topics. While that source is not set, its bronze table stays empty and no freshness is owed.
   */
  optionalSetting?: string;
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
  /**
   * The same check of a record given by column: `raw[index]` is the value of `columns[index]` (undefined when
   * absent), `rescued` its undeclared fields. What check() runs after reading the record's fields; readers that
   * hold a row's values by position (CSV cells) call it without building a record object.
   */
  checkValues(
    raw: readonly unknown[],
    rescued: Record<string, unknown> | null,
    options?: CheckOptions,
  ): ContractVerdict;
  /** Where each declared column sits in a CSV file's rows, from the file's header (see checkCells). */
  cellLayout(header: readonly string[]): CellLayout;
  /**
   * check() of a CSV row without its record object: the cells by the header's layout, exactly as check() judges
   * the object `{ [header[i]]: cells[i] }` (a repeated name: its last cell).
   */
  checkCells(cells: readonly (string | null)[], layout: CellLayout, options?: CheckOptions): ContractVerdict;
  /**
   * Reasons the staged stream columns (partition, offset, publish time) of an event fail their types. `publishedMs`,
   * when the caller made the publish time's text from it (toISOString of a whole millisecond, 1970 to 9999): its
   * window is checked without reading the text back.
   */
  checkStream(values: readonly string[], options?: CheckOptions, publishedMs?: number): readonly string[];
}

/** The check() of every contract built here (and of copies that keep it). */
const compiledChecks = new WeakSet<DataContract['check']>();

/**
 * Whether the contract checks records with its own compiled check(), so a record held by position may be checked
 * by position (checkCells, checkValues) with the same verdict. Not when a caller replaced check() (a quarantine
 * replay's fixed contract): records are then checked as objects, by that check().
 */
export function checksByPosition(contract: DataContract): boolean {
  return compiledChecks.has(contract.check);
}

/** A CSV header read against a contract: the cell of each declared column (-1: absent), the undeclared cells. */
export interface CellLayout {
  readonly cellOf: Int32Array;
  readonly undeclared: readonly { cell: number; name: string }[];
}

const EXPECTED_TEXT: Rejection = Object.freeze({ reason: 'expected text' });

/**
 * The check of one declared field of a source, compiled once: its type (and window), then its business rule.
 * The staged text when the value passes, else why it fails.
 */
function fieldCheck(source: string, column: ColumnSpec, format: RecordFormat): ValueCheck<unknown> {
  const rule: FieldRule | undefined = BUSINESS_RULES[source]?.[column.name];
  let typed: ValueCheck<unknown>;
  if (format === 'csv') {
    const cell = csvCellCheck(column);
    typed = (value, limits) => (typeof value === 'string' ? cell(value, limits) : EXPECTED_TEXT);
  } else {
    typed = jsonValueCheck(column);
  }
  if (!rule) return typed;
  const broken: Rejection = Object.freeze({ reason: rule.message });
  return (value, limits) => {
    const checked = typed(value, limits);
    return typeof checked !== 'string' || rule.holds(checked) ? checked : broken;
  };
}

function buildContract(
  source: string,
  table: string,
  format: RecordFormat,
  specs: ColumnSpec[],
  keyColumns: string[],
): DataContract {
  const checks = specs.map((column) => fieldCheck(source, column, format));
  const names = specs.map((column) => column.name);
  const required = specs.map((column) => !column.nullable);
  const missing = names.map((name) => `${name}: required value is missing`);
  const prefixes = names.map((name) => `${name}: `);
  const streamChecks = STREAM_COLUMN_SPECS.map((spec) => csvCellCheck(spec));
  const positions = new Map(names.map((name, index) => [name, index]));
  const recordRules = RECORD_RULES[source] ?? [];
  const declared = new Set(names);
  const limitsFor = windowsOf(source, names);
  const streamLimits = windowsOf(source, STREAM_COLUMNS);
  const derivations = specs.flatMap((column, index) =>
    (column.derived ?? []).map((derived) => ({ column, index, derived })),
  );
  const needsKey = derivations.some(({ derived }) => derived.kind === 'hmac');
  const contract: DataContract = {
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
      const derived: (string | null)[] = new Array(derivations.length);
      for (let at = 0; at < derivations.length; at += 1) {
        const { column, index, derived: derivation } = derivations[at] as (typeof derivations)[number];
        derived[at] = deriveValue(
          derivation,
          column.pii,
          normalisedForDerivation(column.type, column.pii, values[index] ?? null),
          piiHashKey ?? '',
        );
      }
      return derived;
    },
    check(record, options = {}) {
      let rescued: Record<string, unknown> | null = null;
      for (const key of Object.keys(record)) {
        if (declared.has(key)) continue;
        rescued ??= {};
        rescued[key] = record[key];
      }
      const raw: unknown[] = new Array(names.length);
      for (let index = 0; index < names.length; index += 1) raw[index] = record[names[index] as string];
      return contract.checkValues(raw, rescued, options);
    },
    checkValues(raw, rescued, options = {}) {
      const limits = limitsFor(options);
      // Made for the first reason: a passing record (nearly every one) allocates none.
      let reasons: string[] | null = null;
      const values: (string | null)[] = new Array(checks.length);
      for (let index = 0; index < checks.length; index += 1) {
        const value = raw[index];
        if (value === undefined || value === null) {
          if (required[index]) {
            reasons ??= [];
            reasons.push(missing[index] as string);
          }
          values[index] = null;
          continue;
        }
        const checked = (checks[index] as ValueCheck<unknown>)(value, limits[index] as ValueLimits);
        if (typeof checked === 'string') {
          values[index] = checked;
        } else {
          reasons ??= [];
          reasons.push(`${prefixes[index]}${checked.reason}`);
        }
      }
      if (rescued && Buffer.byteLength(JSON.stringify(rescued)) > MAX_TEXT_BYTES) {
        reasons ??= [];
        reasons.push(`_rescued_data: undeclared fields take more than ${MAX_TEXT_BYTES} bytes`);
      }
      if (reasons !== null) return { values: [], reasons, rescued };
      for (const rule of recordRules) {
        const reason = rule((column) => values[positions.get(column) ?? -1] ?? null);
        if (reason !== null) {
          reasons ??= [];
          reasons.push(reason);
        }
      }
      if (reasons !== null) return { values: [], reasons, rescued };
      return { values, reasons: [], rescued };
    },
    cellLayout(header) {
      const cellOf = new Int32Array(names.length).fill(-1);
      const undeclared: { cell: number; name: string }[] = [];
      header.forEach((name, cell) => {
        const position = positions.get(name);
        if (position !== undefined) cellOf[position] = cell;
        // `record.__proto__ = cell` sets no field of a record object: check() never sees one.
        else if (name !== '__proto__') undeclared.push({ cell, name });
      });
      return { cellOf, undeclared };
    },
    checkCells(cells, layout, options) {
      const { cellOf, undeclared } = layout;
      let rescued: Record<string, unknown> | null = null;
      for (const { cell, name } of undeclared) {
        rescued ??= {};
        rescued[name] = cells[cell];
      }
      const raw: unknown[] = new Array(cellOf.length);
      for (let index = 0; index < cellOf.length; index += 1) {
        const cell = cellOf[index] as number;
        raw[index] = cell < 0 ? undefined : cells[cell];
      }
      return contract.checkValues(raw, rescued, options);
    },
    checkStream(streamValues, options = {}, publishedMs) {
      if (format !== 'json') return NO_REASONS;
      const limits = streamLimits(options);
      // Made for the first reason: a passing event (nearly every one) allocates none.
      let reasons: string[] | null = null;
      for (let index = 0; index < streamChecks.length; index += 1) {
        const checked =
          index === PUBLISHED_AT && publishedMs !== undefined
            ? (checkInstant(publishedMs, limits[index] as ValueLimits) ?? '')
            : (streamChecks[index] as ValueCheck<string>)(
                streamValues[index] ?? '',
                limits[index] as ValueLimits,
              );
        if (typeof checked !== 'string') {
          reasons ??= [];
          reasons.push(`${(STREAM_COLUMN_SPECS[index] as ColumnSpec).name}: ${checked.reason}`);
        }
      }
      return reasons ?? NO_REASONS;
    },
  };
  compiledChecks.add(contract.check);
  return contract;
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
  // Present whether or not CRM_SOURCE_URL is set: their bronze tables exist (empty), so dim_customers builds alike.
  ...CRM_STREAMS.map((stream) => ({
    ...buildContract(stream.name, stream.name, 'csv', stream.columns, stream.primaryKey),
    optionalSetting: 'CRM_SOURCE_URL',
  })),
  // Likewise without HISTORY_SOURCE_URL: gold.agg_daily_sales_history then holds the live days only.
  ...HISTORY_STREAMS.map((stream) => ({
    ...buildContract(stream.name, stream.name, 'csv', stream.columns, stream.primaryKey),
    optionalSetting: 'HISTORY_SOURCE_URL',
  })),
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
