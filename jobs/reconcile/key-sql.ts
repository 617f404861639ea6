/**
 * The queries of the key reconciliation, one pair per question: the same key text, version text, bucket and hash on
 * the source (always PostgreSQL or PGlite) and in the warehouse (PostgreSQL, PGlite or Redshift, through the
 * dialect macros), so that equal content gives equal numbers on both sides.
 *
 * - A key's version is its updated_at as UTC text to the microsecond. On the source, a row newer than the watermark
 *   (or with a NULL one) is in flight: its version is IN_FLIGHT, which the warehouse never holds, so its bucket is
 *   compared key by key and the row is left for the next extract.
 * - In the warehouse a key's version is the newest updated_at among its bronze rows and its quarantined rows; a key
 *   whose latest tombstone is a deletion newer than that version is deleted, and left out of the bucket sums.
 * - A bucket is the first 3 hex digits of md5(key text): 4096 buckets, each summarised by its key count and the sum of
 *   hash32(key text || '|' || version).
 */
import { quoteIdent } from '../../adapters/warehouse/pglite.ts';
import type { SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros } from '../../sql/dialects/macros.ts';
import { columnTypeOf } from '../contracts/data-contracts.ts';
import { bronzeKeyText, sourceKeyText } from '../contracts/source-keys.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { timestampLiteral } from '../extract/index.ts';

/** The version of a source row the warehouse cannot have yet: newer than the watermark, or with no updated_at. */
export const IN_FLIGHT = '~';
const BUCKET_DIGITS = 3;
export const BUCKET_COUNT = 16 ** BUCKET_DIGITS;
const BUCKET = /^[0-9a-f]{3}$/;

const bucketOf = (keyText: string) => `substr(md5(${keyText}), 1, ${BUCKET_DIGITS})`;

/** Every source key with its version text and its key columns as text (key_0, key_1, …). */
function sourceKeys(table: SourceTableSpec, watermark: string): string {
  const keyColumns = table.primaryKey
    .map((column, index) => `cast(${quoteIdent(column)} as varchar) as key_${index}`)
    .join(', ');
  return `select ${sourceKeyText(table)} as key_text, ${keyColumns},
      case when updated_at <= ${timestampLiteral(watermark)} then {{ version_text(updated_at) }}
        else '${IN_FLIGHT}' end as version
    from ${quoteIdent(table.name)}`;
}

/** Every key the warehouse knows with its newest version, and whether its latest tombstone deletes it. */
function warehouseKeys(table: SourceTableSpec): string {
  const source = `'${table.name}'`;
  return `with versions as (
      select ${bronzeKeyText(table)} as key_text, {{ cast_column(${table.name}.updated_at) }} as updated_at
      from bronze.${table.name}
      union all
      select source_key as key_text, source_updated_at as updated_at from ops.quarantine_rows
      where source = ${source} and source_key is not null and source_updated_at is not null
    ),
    latest as (
      select key_text, max(updated_at) as updated_at from versions group by key_text
    ),
    key_events as (
      select key_text, key_event, detected_at,
        row_number() over (partition by key_text order by detected_at desc, _ingested_at desc) as event_rank
      from bronze.source_deletes where source = ${source}
    ),
    keyed as (
      select latest.key_text, {{ version_text(latest.updated_at) }} as version,
        case when key_events.key_event = 'deleted' and key_events.detected_at > latest.updated_at then 1 else 0 end
          as is_deleted
      from latest
      left join key_events on key_events.key_text = latest.key_text and key_events.event_rank = 1
    )`;
}

const summary = (keyed: string) =>
  `select ${bucketOf('key_text')} as bucket, cast(count(*) as bigint) as key_count,
     cast(sum({{ hash32(key_text || '|' || version) }}) as bigint) as signature
   from ${keyed} group by ${bucketOf('key_text')}`;

function inBuckets(buckets: string[] | null): string {
  if (buckets === null) return '';
  const bad = buckets.filter((bucket) => !BUCKET.test(bucket));
  if (bad.length > 0) throw new Error(`reconcile: malformed key bucket(s) ${bad.join(', ')}`);
  return `where ${bucketOf('key_text')} in (${buckets.map((bucket) => `'${bucket}'`).join(', ')})`;
}

/** Per bucket: count and hash sum of the source's keys (rows at or below the watermark with their version). */
export function sourceSummarySql(table: SourceTableSpec, watermark: string): string {
  return expandMacros(summary(`(${sourceKeys(table, watermark)}) as keyed`), 'postgres', {
    columnType: columnTypeOf,
  });
}

/** Per bucket: count and hash sum of the warehouse's live (not deleted) keys. */
export function warehouseSummarySql(table: SourceTableSpec, dialect: SqlDialect): string {
  return expandMacros(`${warehouseKeys(table)} ${summary('keyed where is_deleted = 0')}`, dialect, {
    columnType: columnTypeOf,
  });
}

/** The source's keys of some buckets (all when null), in md5 order: key_hash, key_text, version, key_0… */
export function sourceListingSql(
  table: SourceTableSpec,
  watermark: string,
  buckets: string[] | null,
): string {
  const keyColumns = table.primaryKey.map((_, index) => `key_${index}`).join(', ');
  return expandMacros(
    `select md5(key_text) as key_hash, key_text, version, ${keyColumns}
     from (${sourceKeys(table, watermark)}) as keyed ${inBuckets(buckets)}
     order by {{ bytewise(md5(key_text)) }}`,
    'postgres',
    { columnType: columnTypeOf },
  );
}

/** The warehouse's keys of some buckets (all when null), in md5 order: key_hash, key_text, version, is_deleted. */
export function warehouseListingSql(
  table: SourceTableSpec,
  dialect: SqlDialect,
  buckets: string[] | null,
): string {
  return expandMacros(
    `${warehouseKeys(table)}
     select md5(key_text) as key_hash, key_text, version, is_deleted from keyed ${inBuckets(buckets)}
     order by {{ bytewise(md5(key_text)) }}`,
    dialect,
    { columnType: columnTypeOf },
  );
}
