/**
 * The key-by-key half of the reconciliation: two key listings, each sorted by md5 of the key text, merged as
 * streams so that memory holds one row of each plus the differences found (capped), never a table.
 */
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { IN_FLIGHT } from './key-sql.ts';

/** A source key: its version text, or null while it is in flight (newer than the watermark, or no updated_at). */
export interface SourceKey {
  keyHash: string;
  keyText: string;
  version: string | null;
  /** The key's columns as text, in primary-key order: what a repair extract selects on. */
  keyValues: string[];
}

/** A key the warehouse knows: its newest version (bronze or quarantined), and whether a tombstone deletes it. */
export interface WarehouseKey {
  keyHash: string;
  keyText: string;
  version: string | null;
  deleted: boolean;
}

/**
 * What one key needs:
 * - `deleted`: the warehouse holds it, the source no longer does (a hard delete): write a tombstone;
 * - `restored`: a tombstone deletes it, yet the source has it again: write a restore;
 * - `late`: the source has a version at or below the watermark that the warehouse lacks (a commit after its extract,
 *   beyond the lookback): re-extract the key;
 * - `regressed`: the source's version is older than the warehouse's (updated_at moved back): reported only, since
 *   re-extracting it would not change which version silver takes.
 */
export type KeyAction = 'deleted' | 'restored' | 'late' | 'regressed';

export function classifyKey(source: SourceKey | undefined, warehouse: WarehouseKey | undefined): KeyAction[] {
  if (!source) return warehouse && !warehouse.deleted ? ['deleted'] : [];
  if (!warehouse) return source.version === null ? [] : ['late'];
  // In flight: the next extract brings it; a newer version than the tombstone makes the key live again by itself.
  if (source.version === null) return [];
  const actions: KeyAction[] = warehouse.deleted ? ['restored'] : [];
  // Fixed-width 'YYYY-MM-DD HH24:MI:SS.US' text: text order is time order.
  if (warehouse.version === null || source.version > warehouse.version) actions.push('late');
  else if (source.version < warehouse.version) actions.push('regressed');
  return actions;
}

/** Differences found, each key list capped (a later run takes the rest); counts are exact. */
export interface KeyDifferences {
  compared: number;
  counts: Record<KeyAction, number>;
  deleted: WarehouseKey[];
  restored: WarehouseKey[];
  late: SourceKey[];
  regressed: string[];
}

export function emptyDifferences(): KeyDifferences {
  return {
    compared: 0,
    counts: { deleted: 0, restored: 0, late: 0, regressed: 0 },
    deleted: [],
    restored: [],
    late: [],
    regressed: [],
  };
}

/**
 * Merges the two md5-ordered listings. Both sides sort bytewise, and the merge checks it as it reads: keys out of
 * order would pair the wrong rows, so that is an error, never a silent mismatch.
 */
export async function compareListings(
  sourceRows: AsyncIterable<SourceKey>,
  warehouseRows: AsyncIterable<WarehouseKey>,
  maxKeysPerAction: number,
): Promise<KeyDifferences> {
  const differences = emptyDifferences();
  const record = (source: SourceKey | undefined, warehouse: WarehouseKey | undefined) => {
    differences.compared += 1;
    for (const action of classifyKey(source, warehouse)) {
      differences.counts[action] += 1;
      if (differences.counts[action] > maxKeysPerAction) continue;
      if (action === 'deleted' && warehouse) differences.deleted.push(warehouse);
      if (action === 'restored' && warehouse) differences.restored.push(warehouse);
      if (action === 'late' && source) differences.late.push(source);
      if (action === 'regressed' && source) differences.regressed.push(source.keyText);
    }
  };
  const sources = ordered(sourceRows, 'source');
  const warehouses = ordered(warehouseRows, 'warehouse');
  try {
    await mergeSorted(sources, warehouses, record);
  } finally {
    // Stops a listing left half-read by an error, so its connection is given back.
    await Promise.allSettled([sources.return(undefined), warehouses.return(undefined)]);
  }
  return differences;
}

async function mergeSorted(
  sources: AsyncGenerator<SourceKey>,
  warehouses: AsyncGenerator<WarehouseKey>,
  record: (source: SourceKey | undefined, warehouse: WarehouseKey | undefined) => void,
): Promise<void> {
  let source = await sources.next();
  let warehouse = await warehouses.next();
  while (!source.done || !warehouse.done) {
    const sourceKey = source.done ? undefined : source.value;
    const warehouseKey = warehouse.done ? undefined : warehouse.value;
    if (sourceKey && (!warehouseKey || sourceKey.keyHash < warehouseKey.keyHash)) {
      record(sourceKey, undefined);
      source = await sources.next();
    } else if (warehouseKey && (!sourceKey || warehouseKey.keyHash < sourceKey.keyHash)) {
      record(undefined, warehouseKey);
      warehouse = await warehouses.next();
    } else if (sourceKey && warehouseKey && sourceKey.keyText !== warehouseKey.keyText) {
      // Two keys with one md5: not the same key.
      record(sourceKey, undefined);
      record(undefined, warehouseKey);
      source = await sources.next();
      warehouse = await warehouses.next();
    } else {
      record(sourceKey, warehouseKey);
      source = await sources.next();
      warehouse = await warehouses.next();
    }
  }
}

async function* ordered<T extends { keyHash: string }>(
  rows: AsyncIterable<T>,
  side: string,
): AsyncGenerator<T> {
  let previous = '';
  for await (const row of rows) {
    if (row.keyHash < previous) {
      throw new Error(
        `reconcile: the ${side} key listing is not in md5 order (${row.keyHash} after ${previous}); ` +
          'both sides must sort bytewise',
      );
    }
    previous = row.keyHash;
    yield row;
  }
}

/** CSV rows (COPY output, header first) as objects; an unquoted empty cell is NULL. */
export async function* csvObjects(csv: Readable): AsyncGenerator<Record<string, string | null>> {
  const parser = csv.pipe(
    parse({ cast: (value, context) => (value === '' && !context.quoting ? null : value) }),
  );
  let header: string[] | null = null;
  try {
    for await (const cells of parser as AsyncIterable<(string | null)[]>) {
      if (!header) {
        header = cells.map((cell) => cell ?? '');
        continue;
      }
      const row: Record<string, string | null> = {};
      header.forEach((name, index) => {
        row[name] = cells[index] ?? null;
      });
      yield row;
    }
  } finally {
    csv.destroy();
  }
}

export async function* sourceKeys(csv: Readable, keyColumns: number): AsyncGenerator<SourceKey> {
  for await (const row of csvObjects(csv)) {
    const version = row.version ?? null;
    yield {
      keyHash: row.key_hash ?? '',
      keyText: row.key_text ?? '',
      version: version === IN_FLIGHT ? null : version,
      keyValues: Array.from({ length: keyColumns }, (_, index) => row[`key_${index}`] ?? ''),
    };
  }
}

export async function* warehouseKeys(csv: Readable): AsyncGenerator<WarehouseKey> {
  for await (const row of csvObjects(csv)) {
    yield {
      keyHash: row.key_hash ?? '',
      keyText: row.key_text ?? '',
      version: row.version ?? null,
      deleted: row.is_deleted === '1',
    };
  }
}
