/**
 * Lake keys (docs/architecture.md, "Data flow"): `<zone>/source=<name>/ingestion_date=YYYY-MM-DD/<batch id>.<ext>`. Keys derive only from
 * the batch id and date, so replaying a batch overwrites its objects instead of adding copies.
 */
export type LakeZone = 'raw' | 'staging' | 'quarantine';

export function lakeKey(
  zone: LakeZone,
  source: string,
  ingestionDate: string,
  batchId: string,
  extension: string,
): string {
  return `${zone}/source=${source}/ingestion_date=${ingestionDate}/${batchId}.${extension}`;
}

export function isoDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** A database timestamp as a compact, sortable, key-safe token: '2026-11-21 10:15:00.5+00' -> 20261121T1015005Z. */
export function compactTimestamp(timestamp: string): string {
  const [date = '', time = ''] = timestamp.replace(/[+-]00(:00)?$/, '').split(/[ T]/);
  return `${date.replaceAll('-', '')}T${time.replace(/[:.]/g, '')}Z`;
}

/**
 * Zones that hold what the warehouse decided rather than data that flowed through the contracts, so a rebuild from
 * the lake alone (`ecomm rebuild`) honours them: `tombstones/` (the key events of `ecomm reconcile`, CSV, keyed like
 * a batch: `tombstones/source=<table>/ingestion_date=<day>/<table>_keys_<detected>.csv`) and `decisions/` (one JSON
 * object per batch held back or skipped, `decisions/<batch id>.json`, removed when the batch is retried).
 */
export type LedgerZone = 'tombstones' | 'decisions';

export function tombstoneKey(source: string, ingestionDate: string, batchId: string): string {
  return `tombstones/source=${source}/ingestion_date=${ingestionDate}/${batchId}.csv`;
}

export function decisionKey(batchId: string): string {
  return `decisions/${batchId}.json`;
}

/** The parts of a `<zone>/source=<name>/ingestion_date=YYYY-MM-DD/<batch id>.<ext>` key; null for any other key. */
export interface ParsedLakeKey {
  zone: string;
  source: string;
  ingestionDate: string;
  batchId: string;
  extension: string;
}

export function parseLakeKey(key: string): ParsedLakeKey | null {
  const match = /^([a-z]+)\/source=([^/]+)\/ingestion_date=(\d{4}-\d{2}-\d{2})\/([^/.]+)\.([^/]+)$/.exec(key);
  if (!match) return null;
  const [, zone, source, ingestionDate, batchId, extension] = match as unknown as string[];
  return {
    zone: zone as string,
    source: source as string,
    ingestionDate: ingestionDate as string,
    batchId: batchId as string,
    extension: extension as string,
  };
}
