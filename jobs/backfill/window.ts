/**
 * The flags of `ecomm backfill`, checked before anything is read: a known source table, two timestamps that parse,
 * a window that is not empty and not in the future. Each bad flag is named with what was expected.
 */
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';

/** A flag the operator got wrong: the CLI exits 2 with this message. */
export class BackfillUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillUsageError';
  }
}

export interface BackfillWindow {
  table: SourceTableSpec;
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS[.sss]]` with an optional `Z` or `±HH:MM`; UTC when no zone is given. */
export function parseTimestampFlag(flag: string, value: string): Date {
  const match = TIMESTAMP.exec(value.trim());
  const expected =
    'expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.sss]] with an optional Z or ±HH:MM (UTC when no zone)';
  if (!match) throw new BackfillUsageError(`${flag} "${value}" is not a timestamp: ${expected}`);
  const [, year, month, day, hour = '00', minute = '00', second = '00', millis = '0', zone = 'Z'] =
    match as unknown as string[];
  const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const iso = `${year}-${month}-${day}T${hour}:${minute}:${second}.${millis.padEnd(3, '0')}${offset}`;
  const parsed = new Date(iso);
  // Date rolls 2026-02-30 over to March: a real calendar day and clock reading round-trip unchanged.
  const local = new Date(parsed.getTime() + zoneMinutes(offset) * 60_000).toISOString();
  if (Number.isNaN(parsed.getTime()) || local.slice(0, 19) !== iso.slice(0, 19))
    throw new BackfillUsageError(`${flag} "${value}" is not a real date and time: ${expected}`);
  return parsed;
}

function zoneMinutes(offset: string): number {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  return sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
}

/** The window a backfill reads: `from <= updated_at < to`, checked against the job's clock. */
export function backfillWindow(
  options: { source?: string; from?: string; to?: string },
  now: Date,
): BackfillWindow {
  const names = SOURCE_TABLES.map((table) => table.name);
  if (!options.source) throw new BackfillUsageError(`--source is required: one of ${names.join(', ')}`);
  const table = SOURCE_TABLES.find((candidate) => candidate.name === options.source);
  if (!table) {
    throw new BackfillUsageError(
      `--source "${options.source}" is not a source table: one of ${names.join(', ')} ` +
        '(event topics are not backfilled from the source: their raw batches stay in the lake)',
    );
  }
  if (!options.from) throw new BackfillUsageError('--from is required (inclusive)');
  if (!options.to) throw new BackfillUsageError('--to is required (exclusive)');
  const from = parseTimestampFlag('--from', options.from);
  const to = parseTimestampFlag('--to', options.to);
  if (from.getTime() >= to.getTime()) {
    throw new BackfillUsageError(
      `--from (${from.toISOString()}) must be before --to (${to.toISOString()}): the window is from <= updated_at < to`,
    );
  }
  if (to.getTime() > now.getTime()) {
    throw new BackfillUsageError(
      `--to (${to.toISOString()}) is in the future (now ${now.toISOString()}): a backfill re-reads history; ` +
        'rows still to come are the regular extract’s',
    );
  }
  return { table, from, to };
}

/** A window bound as the source's timestamp text: `2026-01-01 10:00:00+00`, milliseconds only when set. */
export function databaseTimestamp(at: Date): string {
  return at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.000Z$/, '+00')
    .replace(/Z$/, '+00');
}
