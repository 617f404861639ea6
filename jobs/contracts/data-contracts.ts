import { z } from 'zod';
import { BUSINESS_RULES } from './business-rules.ts';
import { EVENT_TOPICS } from './event-topics.ts';
import { type ColumnSpec, type ColumnType, SOURCE_TABLES } from './source-tables.ts';

/** How a source's records arrive: CSV text cells from the OLTP extract, or JSON values from event topics. */
export type RecordFormat = 'csv' | 'json';

/** Staged for event sources: the Kafka partition, offset and record timestamp (publish time, ISO-8601). */
export const STREAM_COLUMNS = ['_stream_partition', '_stream_offset', '_published_at'] as const;

/**
 * Limits that keep every staged row loadable, so no event can stall a load (and so a partition) downstream:
 * bronze text columns are varchar(65535) (Redshift counts bytes), and PostgreSQL text cannot hold NUL.
 * Events above 1 MiB are refused whole (Azure Event Hubs' own cap is 1 MB, MSK's default 1 MiB).
 */
export const MAX_TEXT_BYTES = 65_535;
export const MAX_EVENT_BYTES = 1_048_576;

const loadableText = (schema: z.ZodString) =>
  schema
    .refine((value) => !value.includes('\u0000'), 'text must not contain NUL characters')
    .refine(
      (value) => value.length * 3 <= MAX_TEXT_BYTES || Buffer.byteLength(value) <= MAX_TEXT_BYTES,
      `text longer than ${MAX_TEXT_BYTES} bytes`,
    );

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
  /** Where each event sat in the stream, staged beside it: lateness is judged against the publish time. */
  streamColumns: string[];
  check(record: Record<string, unknown>): ContractVerdict;
}

const isTimestamp = (value: string) =>
  /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}/.test(value) && !Number.isNaN(Date.parse(value));

const missingOr = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined || issue.input === null ? 'required value is missing' : `expected ${expected}`;

/** Cell schemas for CSV text; the database wrote these, so the shapes are PostgreSQL's text output. */
const CSV_TYPES: Record<ColumnType, () => z.ZodType<string>> = {
  int: () => z.string({ error: missingOr('an integer') }).regex(/^-?\d{1,18}$/, 'expected an integer'),
  numeric: () =>
    z.string({ error: missingOr('a decimal number') }).regex(/^-?\d+(\.\d+)?$/, 'expected a decimal number'),
  text: () => z.string({ error: missingOr('text') }),
  timestamptz: () =>
    z.string({ error: missingOr('a timestamp') }).refine(isTimestamp, 'expected a timestamp'),
  date: () =>
    z.string({ error: missingOr('a date') }).regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  bool: () => z.enum(['t', 'f', 'true', 'false'], { error: missingOr('a boolean') }),
};

/** Value schemas for JSON events: a number must be a number, not a string that looks like one. */
const JSON_TYPES: Record<ColumnType, () => z.ZodType<string | number | boolean>> = {
  int: () => z.number({ error: missingOr('an integer') }).int('expected an integer'),
  numeric: () => z.number({ error: missingOr('a number') }),
  text: () => loadableText(z.string({ error: missingOr('text') })),
  timestamptz: () =>
    z
      .string({ error: missingOr('an ISO-8601 timestamp') })
      .max(64, 'expected an ISO-8601 timestamp')
      .refine(isTimestamp, 'expected an ISO-8601 timestamp'),
  date: () =>
    z.string({ error: missingOr('a date') }).regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  bool: () => z.boolean({ error: missingOr('a boolean') }),
};

function fieldSchema(source: string, column: ColumnSpec, format: RecordFormat): z.ZodType {
  const base = (format === 'csv' ? CSV_TYPES : JSON_TYPES)[column.type]();
  const rule = BUSINESS_RULES[source]?.[column.name];
  // pipe: the rule runs only on a value of the right type, so 'ten' gets one reason, not two.
  const checked = rule ? base.pipe(z.any().refine((value) => rule.holds(String(value)), rule.message)) : base;
  return column.nullable ? checked.nullable().optional() : checked;
}

function buildContract(
  source: string,
  table: string,
  format: RecordFormat,
  columns: ColumnSpec[],
): DataContract {
  const schema = z.object(
    Object.fromEntries(columns.map((column) => [column.name, fieldSchema(source, column, format)])),
  );
  const names = columns.map((column) => column.name);
  const declared = new Set(names);
  return {
    source,
    table,
    format,
    columns: names,
    streamColumns: format === 'json' ? [...STREAM_COLUMNS] : [],
    check(record) {
      let rescued: Record<string, unknown> | null = null;
      for (const key of Object.keys(record)) {
        if (declared.has(key)) continue;
        rescued ??= {};
        rescued[key] = record[key];
      }
      const parsed = schema.safeParse(record);
      const reasons = parsed.success
        ? []
        : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`);
      if (rescued && Buffer.byteLength(JSON.stringify(rescued)) > MAX_TEXT_BYTES)
        reasons.push(`_rescued_data: undeclared fields take more than ${MAX_TEXT_BYTES} bytes`);
      if (reasons.length > 0) return { values: [], reasons, rescued };
      const values = names.map((name) => {
        const value = record[name];
        return value === undefined || value === null ? null : String(value);
      });
      return { values, reasons: [], rescued };
    },
  };
}

export const DATA_CONTRACTS: DataContract[] = [
  ...SOURCE_TABLES.map((table) => buildContract(table.name, table.name, 'csv', table.columns)),
  ...EVENT_TOPICS.map((topic) => buildContract(topic.topic, topic.table, 'json', topic.fields)),
];

export function contractFor(source: string): DataContract {
  const contract = DATA_CONTRACTS.find((entry) => entry.source === source);
  if (!contract) throw new Error(`no data contract for source "${source}"`);
  return contract;
}
