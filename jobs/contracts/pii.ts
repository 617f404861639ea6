/**
 * Personal data in the contracts: the classes a column can be tagged with, the derived columns computed from it
 * while rows are validated (keyed hashes and masks), and the masking of undeclared fields (`_rescued_data`).
 *
 * The keyed hash is HMAC-SHA256 computed here, in TypeScript, with the key from the secret store (`PII_HASH_KEY`):
 * the key never appears in SQL text, so neither PostgreSQL's statement log nor Redshift's query-text tables can
 * hold it. Gold selects the derived columns; the clear values land only in the restricted schema `pii`
 * (sql/README.md › PII).
 */
import { createHmac } from 'node:crypto';

/** What kind of personal data a column holds; `ssn` and `card` are reserved for sources that will carry them. */
export type PiiClass = 'email' | 'phone' | 'name' | 'address' | 'ssn' | 'card';

/**
 * A column computed from a declared one during validation and staged after the declared columns:
 * `hmac` is the keyed hash of the normalised value (64 lowercase hex characters), `mask` its masked form.
 */
export interface DerivedColumn {
  name: string;
  kind: 'hmac' | 'mask';
}

/** The HMAC-SHA256 of the UTF-8 text under the key, as 64 lowercase hex characters. */
export function hmacHex(key: string, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * Recent hashes under the current key: a customer id recurs in every event and order of that customer, and one
 * HMAC costs ~3 µs against ~0.1 µs for a lookup. Bounded: emptied when full (or when the key changes).
 */
const recentHashes = { key: '', hashes: new Map<string, string>() };
const RECENT_HASHES_MAX = 100_000;

function cachedHmacHex(key: string, text: string): string {
  if (recentHashes.key !== key || recentHashes.hashes.size >= RECENT_HASHES_MAX) {
    recentHashes.key = key;
    recentHashes.hashes.clear();
  }
  let hash = recentHashes.hashes.get(text);
  if (hash === undefined) {
    hash = hmacHex(key, text);
    recentHashes.hashes.set(text, hash);
  }
  return hash;
}

/** SQL's trim(): spaces only, both ends (JavaScript's trim() would also take tabs and newlines). */
function trimSpaces(text: string): string {
  return text.replace(/^ +| +$/g, '');
}

/**
 * The value a derived column is computed from, normalised as silver used to normalise it before hashing, so the
 * hash of a value does not depend on its spelling: integers as their decimal text (`042` is `42`), emails
 * trimmed and lower-cased, other text trimmed; an empty text is no value (null).
 */
export function normalisedForDerivation(
  type: string,
  pii: PiiClass | undefined,
  staged: string | null,
): string | null {
  if (staged === null) return null;
  if (type === 'int' || type === 'bigint')
    return isCanonicalInteger(staged) ? staged : BigInt(staged).toString();
  const trimmed = trimSpaces(staged);
  if (pii === 'email') return trimmed.toLowerCase();
  return trimmed === '' ? null : trimmed;
}

/** `0` or `-?[1-9][0-9]*`: BigInt(text).toString() would give the text back. */
function isCanonicalInteger(text: string): boolean {
  const from = text.charCodeAt(0) === 0x2d ? 1 : 0;
  const first = text.charCodeAt(from);
  if (from === text.length || first < 0x30 || first > 0x39) return false;
  if (first === 0x30) return text.length === 1;
  for (let at = from + 1; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

/** A derived value from the normalised source value: its keyed hash or its mask (null stays null). */
export function deriveValue(
  derived: DerivedColumn,
  pii: PiiClass | undefined,
  value: string | null,
  key: string,
): string | null {
  if (value === null) return null;
  if (derived.kind === 'hmac') return cachedHmacHex(key, value);
  return maskByClass(pii, value);
}

/** The masked form gold shows: `j***@example.com`, `***67`, `****1234` (card), else `***`. */
export function maskByClass(pii: PiiClass | undefined, value: string): string {
  const characters = Array.from(value);
  switch (pii) {
    case 'email':
      return `${characters[0] ?? ''}***@${value.split('@')[1] ?? ''}`;
    case 'phone':
      return `***${characters.slice(-2).join('')}`;
    case 'card':
      return `****${value.replace(/\D/g, '').slice(-4)}`;
    default:
      return '***';
  }
}

export const EMAIL_PATTERN = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/**
 * Phone numbers: an international prefix (`+44 20 1234 5678`, `+1 201-555-0100`) or a grouped national number
 * (`(201) 555-0100`, `201-555-0100`). Dates (`2026-09-30`), times, UUIDs and amounts do not match: groups after the
 * first need three or more digits, and no letter or digit may touch either end.
 */
export const PHONE_PATTERN =
  /(?<![\w+-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4})(?![\w-])/g;
/** Card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn check. */
const CARD_PATTERN = /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])/g;
/** US social security numbers as written: 123-45-6789. */
const SSN_PATTERN = /(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])/g;

/** A phone number has 7 to 15 digits (E.164); fewer is a code or an amount. */
export function isPhoneDigits(text: string): boolean {
  const digits = text.replace(/\D/g, '').length;
  return digits >= 7 && digits <= 15;
}

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Masks card numbers, social security numbers, email addresses and phone numbers wherever they sit in text. */
export function maskPiiInText(text: string): string {
  return text
    .replace(CARD_PATTERN, (match) => {
      const digits = match.replace(/\D/g, '');
      return passesLuhn(digits) ? `****${digits.slice(-4)}` : match;
    })
    .replace(SSN_PATTERN, '***-**-****')
    .replace(EMAIL_PATTERN, (match) => maskByClass('email', match))
    .replace(PHONE_PATTERN, (match) =>
      isPhoneDigits(match) ? maskByClass('phone', match.replace(/\D/g, '')) : match,
    );
}

/**
 * Undeclared fields as they are staged into `_rescued_data`: every string, at any depth, with card numbers, social
 * security numbers, emails and phone numbers masked (numbers that look like a card or a phone are masked too).
 * Keys are kept: they say what drifted. Bronze and everything after it never see the clear values; raw/ keeps
 * the record as received.
 */
export function maskRescued(value: unknown): unknown {
  if (typeof value === 'string') return maskPiiInText(value);
  if (typeof value === 'number') {
    const text = String(value);
    const masked = maskPiiInText(text);
    return masked === text ? value : masked;
  }
  if (Array.isArray(value)) return value.map(maskRescued);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, maskRescued(item)]));
  return value;
}
