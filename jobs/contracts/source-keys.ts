/**
 * A source row's key as one text, computed the same way wherever it is needed: on the source (typed columns), in
 * bronze (the text the extract wrote), and in TypeScript from a staged or quarantined record. The columns of a
 * composite key are joined by '|'; each is the PostgreSQL text output of its value, which is exactly what the
 * extract's COPY wrote, so the three agree without any parsing.
 */
import { quoteIdent } from '../../adapters/warehouse/pglite.ts';
import { SOURCE_TABLES, type SourceTableSpec } from './source-tables.ts';

export const KEY_SEPARATOR = '|';

/** SQL over the source table: the key text of each row. */
export function sourceKeyText(table: SourceTableSpec): string {
  return table.primaryKey
    .map((column) => `cast(${quoteIdent(column)} as varchar)`)
    .join(` || '${KEY_SEPARATOR}' || `);
}

/** SQL over `bronze.<table>`: the same key text, from the columns as received (not trimmed: the source wrote them). */
export function bronzeKeyText(table: SourceTableSpec): string {
  return table.primaryKey.map(quoteIdent).join(` || '${KEY_SEPARATOR}' || `);
}

/** The key text of a record read from a CSV extract; null when a key column is missing. */
export function recordKeyText(table: SourceTableSpec, record: Record<string, unknown>): string | null {
  const parts: string[] = [];
  for (const column of table.primaryKey) {
    const value = record[column];
    if (typeof value !== 'string') return null;
    parts.push(value);
  }
  return parts.join(KEY_SEPARATOR);
}

const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$/;

/**
 * Who a quarantined record is, so the reconciliation can count its version as known instead of re-extracting it
 * every run: a table row's key text and updated_at (when it is a well-formed timestamp), an event's event_id.
 */
export function quarantinedIdentity(
  source: string,
  record: unknown,
): { key: string | null; updatedAt: string | null } {
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    return { key: null, updatedAt: null };
  const fields = record as Record<string, unknown>;
  const table = SOURCE_TABLES.find((spec) => spec.name === source);
  if (!table) {
    const eventId = fields.event_id;
    return { key: typeof eventId === 'string' ? eventId.slice(0, 1024) : null, updatedAt: null };
  }
  const key = recordKeyText(table, fields);
  const updatedAt = fields.updated_at;
  return {
    key: key !== null && key.length <= 1024 ? key : null,
    updatedAt: typeof updatedAt === 'string' && TIMESTAMP_TEXT.test(updatedAt) ? updatedAt : null,
  };
}
