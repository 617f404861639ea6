/**
 * PII masking for quarantined records shown by the monitor. A quarantined row is the record as it arrived, so it
 * may hold email, phone, names or street address in clear (invariant 4 protects gold, not quarantine); the
 * monitor masks before anything leaves the server, in HTML and in JSON alike:
 * - every column the source contract flags `pii` (SOURCE_TABLES, CRM_STREAMS), and fields whose name says personal data
 *   (an undeclared, rescued `email` field on an event, say);
 * - any other value that looks like an email address or a phone number, and such substrings inside text that
 *   could not be parsed (malformed JSON, a truncated record).
 */
import { CRM_STREAMS } from '../contracts/crm-streams.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { EMAIL_PATTERN, isPhoneDigits, PHONE_PATTERN } from '../contracts/pii.ts';
import { SOURCE_TABLES } from '../contracts/source-tables.ts';

/** Field names treated as personal data whatever the source (schema drift can bring them anywhere). */
const PII_FIELD_NAMES =
  /^(e_?mail|email_address|phone|phone_number|mobile|telephone|first_name|last_name|full_name|customer_name|given_name|family_name|surname|name|street|street_address|address|address_line_?\d?|postal_address|birth_date|date_of_birth|dob|ssn|tax_id|card_number|iban|ip_address)$/i;

const PII_COLUMNS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  [
    ...SOURCE_TABLES.map((table) => [table.name, table.columns] as const),
    ...CRM_STREAMS.map((stream) => [stream.name, stream.columns] as const),
    ...EVENT_TOPICS.map((topic) => [topic.topic, topic.fields] as const),
  ].map(([source, columns]) => [
    source,
    new Set(columns.filter((column) => column.pii).map((column) => column.name)),
  ]),
);

const EMAIL = EMAIL_PATTERN;
const EMAIL_WHOLE = new RegExp(`^${EMAIL_PATTERN.source}$`);
const PHONE = PHONE_PATTERN;
const PHONE_WHOLE = new RegExp(`^${PHONE_PATTERN.source}$`);

export type MaskedValue = string | number | boolean | null;

/** A record as the monitor shows it: its fields with PII masked, or (unparseable) its text with PII masked. */
export type MaskedRecord =
  | { kind: 'fields'; fields: [name: string, value: MaskedValue][] }
  | { kind: 'text'; text: string; partition?: number; offset?: number };

/** `j***@example.com`: the same shape gold's `email_masked` uses, so analysts recognise it. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${value.charAt(0)}***${value.slice(at)}`;
}

/** `***67`: the last two digits only, like gold's `phone_masked`. */
export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  return `***${digits.slice(-2)}`;
}

/** Masks email addresses and phone numbers wherever they sit inside free text. */
export function maskText(text: string): string {
  return text
    .replace(EMAIL, (match) => maskEmail(match))
    .replace(PHONE, (match) => (isPhoneDigits(match) ? maskPhone(match) : match));
}

export function isPiiField(source: string, field: string): boolean {
  return PII_COLUMNS.get(source)?.has(field) === true || PII_FIELD_NAMES.test(field);
}

/** One value: a PII field is always masked (by shape when its shape is known); other strings are scanned. */
export function maskValue(source: string, field: string, value: unknown): MaskedValue {
  if (value === null || value === undefined) return null;
  if (isPiiField(source, field)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text === '') return '';
    if (EMAIL_WHOLE.test(text.trim())) return maskEmail(text.trim());
    if ((PHONE_WHOLE.test(text.trim()) && isPhoneDigits(text)) || /phone|mobile|tele/i.test(field))
      return maskPhone(text);
    return '***';
  }
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return maskText(value);
  return JSON.stringify(maskNested(source, value));
}

/** Nested values (a rescued object, an array): the same rules at every level, keys included. */
function maskNested(source: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => maskNested(source, item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        item !== null && typeof item === 'object' ? maskNested(source, item) : maskValue(source, key, item),
      ]),
    );
  }
  return typeof value === 'string' ? maskText(value) : value;
}

/**
 * Masks one `ops.quarantine_rows.record` (JSON text). A record of an unreadable event is
 * `{"partition", "offset", "value": "<raw text>"}`; a record cut short in the ledger is not JSON at all: both are
 * shown as text, scanned for emails and phones.
 */
export function maskRecord(source: string, recordText: string | null): MaskedRecord {
  if (recordText === null) return { kind: 'text', text: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(recordText);
  } catch {
    return { kind: 'text', text: maskText(recordText) };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'text', text: maskText(typeof parsed === 'string' ? parsed : recordText) };
  }
  const record = parsed as Record<string, unknown>;
  const keys = Object.keys(record);
  const isUnreadableEvent =
    typeof record.value === 'string' && keys.every((key) => ['value', 'partition', 'offset'].includes(key));
  if (isUnreadableEvent) {
    return {
      kind: 'text',
      text: maskText(record.value as string),
      ...(typeof record.partition === 'number' ? { partition: record.partition } : {}),
      ...(typeof record.offset === 'number' ? { offset: record.offset } : {}),
    };
  }
  return { kind: 'fields', fields: keys.map((key) => [key, maskValue(source, key, record[key])]) };
}
