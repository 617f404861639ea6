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
