/**
 * What the lake holds for a rebuild: every batch (its raw, staged and quarantine objects, found by listing the
 * zones), the ledger's decisions (failed, skipped), the tombstones, and per source table the watermark the regular
 * extract had reached. Listing is the object store's own (S3, Azure Blob, a folder), paged by the adapter.
 */
import type { ObjectInfo, ObjectStore } from '../../adapters/storage/object-store.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { SOURCE_TABLES } from '../contracts/source-tables.ts';
import { parseLakeKey } from '../lake/layout.ts';
import { openRawRecords } from '../validate/index.ts';

export interface LakeBatch {
  batchId: string;
  source: string;
  ingestionDate: string;
  raw: ObjectInfo | null;
  staged: ObjectInfo | null;
  quarantine: ObjectInfo | null;
}

const BATCH_ZONES = { raw: 'raw', staging: 'staged', quarantine: 'quarantine' } as const;

/**
 * Every batch with an object in raw/, staging/ or quarantine/. A batch id found under two ingestion dates (a
 * replay after midnight rewrote it under the new day) keeps the newest day's objects, as the ledger did.
 */
export async function lakeBatches(lake: ObjectStore): Promise<LakeBatch[]> {
  const batches = new Map<string, LakeBatch>();
  for (const [zone, slot] of Object.entries(BATCH_ZONES)) {
    for await (const object of lake.list(`${zone}/`)) {
      const parsed = parseLakeKey(object.key);
      if (!parsed || parsed.zone !== zone) continue;
      const batch = batches.get(parsed.batchId) ?? {
        batchId: parsed.batchId,
        source: parsed.source,
        ingestionDate: parsed.ingestionDate,
        raw: null,
        staged: null,
        quarantine: null,
      };
      if (parsed.ingestionDate > batch.ingestionDate) {
        batch.ingestionDate = parsed.ingestionDate;
        batch.raw = batch.staged = batch.quarantine = null;
      }
      if (parsed.ingestionDate === batch.ingestionDate) batch[slot] = object;
      batches.set(parsed.batchId, batch);
    }
  }
  return [...batches.values()].filter((batch) => batch.raw || batch.staged);
}

/** The tombstone objects (`tombstones/`), oldest reconciliation first. */
export async function tombstoneObjects(lake: ObjectStore): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  for await (const object of lake.list('tombstones/')) if (object.key.endsWith('.csv')) objects.push(object);
  return objects;
}

export interface RecoveredWatermark {
  source: string;
  watermarkAt: string;
  batchId: string;
  /** Set when the latest regular batch's raw object held no readable row and an earlier batch gave the watermark. */
  fallbackFrom?: string;
}

/**
 * Per source table, the watermark the regular extract had reached: the newest updated_at in the raw object of its
 * latest regular batch (`<table>_initial`, then `<table>_<window start>`; backfill, repair and replay batches never
 * move a watermark). That batch's window ended at its newest row, which is where the live watermark moved to.
 */
export async function recoverWatermarks(
  lake: ObjectStore,
  batches: LakeBatch[],
): Promise<RecoveredWatermark[]> {
  const recovered: RecoveredWatermark[] = [];
  for (const table of SOURCE_TABLES) {
    const regular = batches
      .filter((batch) => batch.source === table.name && batch.raw)
      .map((batch) => ({ batch, start: windowStart(table.name, batch.batchId) }))
      .filter((entry): entry is { batch: LakeBatch; start: string } => entry.start !== null)
      .sort((left, right) => (left.start < right.start ? 1 : left.start > right.start ? -1 : 0));
    // The latest raw object with a readable row: an earlier one only when the latest was damaged (then reported).
    for (const [index, { batch }] of regular.entries()) {
      const newest = await newestUpdatedAt(lake, table.name, batch.raw?.key as string);
      if (!newest) continue;
      recovered.push({
        source: table.name,
        watermarkAt: newest,
        batchId: batch.batchId,
        ...(index > 0 ? { fallbackFrom: regular[0]?.batch.batchId } : {}),
      });
      break;
    }
  }
  return recovered;
}

async function newestUpdatedAt(lake: ObjectStore, table: string, key: string): Promise<string | null> {
  let newest: { text: string; order: bigint } | null = null;
  try {
    for await (const record of await openRawRecords(lake, key, contractFor(table))) {
      const text = record.fields?.updated_at;
      if (typeof text !== 'string') continue;
      const order = timestampOrder(text);
      if (order !== null && (newest === null || order > newest.order)) newest = { text, order };
    }
  } catch {
    return null; // an unreadable object: the caller falls back to an earlier batch
  }
  return newest?.text ?? null;
}

/**
 * A regular extract batch's window start as a sortable string (`initial` sorts first), or null for any other
 * batch of the table. The id's compact timestamp drops the fraction's dot, so the fraction is padded to compare.
 */
export function windowStart(table: string, batchId: string): string | null {
  if (batchId === `${table}_initial`) return '0';
  const match = new RegExp(`^${table}_(\\d{8})T(\\d{6})(\\d{0,6})Z$`).exec(batchId);
  if (!match) return null;
  return `1${match[1]}${match[2]}${(match[3] ?? '').padEnd(6, '0')}`;
}

/** A timestamp as PostgreSQL prints it (`2026-01-01 10:00:00.123456+00`) in microseconds since the epoch. */
export function timestampOrder(text: string): bigint | null {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2}(?::?\d{2})?|Z)?$/.exec(
    text.trim(),
  );
  if (!match) return null;
  const zone = match[4] ?? 'Z';
  const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.length > 3 ? zone.slice(-2) : '00'}`;
  const millis = Date.parse(`${match[1]}T${match[2]}${offset}`);
  if (Number.isNaN(millis)) return null;
  return BigInt(millis) * 1000n + BigInt((match[3] ?? '').padEnd(6, '0'));
}
