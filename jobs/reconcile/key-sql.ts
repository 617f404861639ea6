/**
 * The queries of the key reconciliation, one pair per question: the same key text, version text, bucket and hash on
 * the source (always PostgreSQL or PGlite) and in the warehouse (PostgreSQL, PGlite or Redshift, through the
 * dialect macros), so that equal content gives equal numbers on both sides.
 *
 * - A key's version is its updated_at as UTC text to the microsecond. On the source, a row newer than the watermark
 *   (or with a NULL one) is in flight: its version is IN_FLIGHT, which the warehouse never holds, so its bucket is
 *   compared key by key and the row is left for the next extract.
 * - In the warehouse a key's version is the newest updated_at among its bronze rows (kept per key in
 *   ops.reconcile_versions: key-versions.ts) and its quarantined rows; a key whose latest tombstone is a deletion
 *   newer than that version is deleted, and left out of the bucket sums.
 * - A table whose key is one integer column (every table but fx_rates) is summarised by arithmetic alone, since md5
 *   and to_char per row were most of the reconciliation's cost: its bucket is mod(key, 4096), and each key adds
 *   mixedHash(key, epoch_micros(version)) to its bucket's sum. Any other key: its bucket is the first 3 hex digits of
 *   md5(key text), and each key adds hash32(key text || '|' || version). Either way 4096 buckets, each a key count
 *   and a sum, and a key's bucket depends on its key alone, so a bucket lists the same keys on both sides.
 */
import { quoteIdent } from '../../adapters/warehouse/pglite.ts';
import type { SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros } from '../../sql/dialects/macros.ts';
import { columnTypeOf } from '../contracts/data-contracts.ts';
import { sourceKeyText } from '../contracts/source-keys.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { timestampLiteral } from '../extract/index.ts';

/** The version of a source row the warehouse cannot have yet: newer than the watermark, or with no updated_at. */
export const IN_FLIGHT = '~';
const BUCKET_DIGITS = 3;
export const BUCKET_COUNT = 16 ** BUCKET_DIGITS;

/**
 * How a table's keys are bucketed and hashed: `integer` (one int or bigint key column) by arithmetic on the key and
 * the version's microseconds, `text` (a composite or non-integer key) by md5 of the key text and the version text.
 */
export type KeyShape = 'integer' | 'text';

export function keyShapeOf(table: SourceTableSpec): KeyShape {
  if (table.primaryKey.length !== 1) return 'text';
  const column = table.columns.find((candidate) => candidate.name === table.primaryKey[0]);
  return column?.type === 'int' || column?.type === 'bigint' ? 'integer' : 'text';
}

/**
 * The column of ops.reconcile_versions (and of the warehouse keys' queries) a table's key is held in: its number for
 * one integer key column, its text otherwise.
 */
export function keyVersionColumn(table: SourceTableSpec): 'key_number' | 'key_text' {
  return keyShapeOf(table) === 'integer' ? 'key_number' : 'key_text';
}

const BUCKET: Record<KeyShape, RegExp> = { integer: /^-?\d{1,4}$/, text: /^[0-9a-f]{3}$/ };

/** A bucket as the summaries name it (text) and as the listings select it. */
const bucketOf: Record<KeyShape, string> = {
  integer: `mod(key_number, ${BUCKET_COUNT})`,
  text: `substr(md5(key_text), 1, ${BUCKET_DIGITS})`,
};

/**
 * A prime below 2^31: every value mixed is reduced mod it first, so no product exceeds 2^62 and the same bigint
 * arithmetic gives the same number on PostgreSQL and Redshift (both truncate mod and division toward zero).
 */
const PRIME = 2_147_483_647;
/** What an in-flight source key adds to its bucket's sum: a value no mixed hash takes (they are all below PRIME). */
const IN_FLIGHT_HASH = PRIME;

/**
 * The integer key's share of its bucket's sum: a polynomial of degree 2 in the key and the version's microseconds,
 * mod PRIME, so a changed version, or a key deleted and another inserted in the same bucket, changes the sum
 * unless the change happens to solve that polynomial. Reads the columns `a` (key mod PRIME), `x` (key and version
 * mixed) and `c` (the version's high part) of mixedInputs, computed once per key.
 */
const mixedHash = `case when x is null then ${IN_FLIGHT_HASH}
    else mod(mod(x * x, ${PRIME}) * 16807 + a + c, ${PRIME}) end`;

/** The inputs of mixedHash over rows with key_number and version_number (null while in flight). */
function mixedInputs(keyed: string): string {
  // offset 0 keeps PostgreSQL from inlining x into both factors of x * x (the version would be computed twice).
  return `(select key_number, mod(key_number, ${PRIME}) as a,
      mod(mod(key_number, ${PRIME}) * 48271 + mod(version_number, ${PRIME}), ${PRIME}) as x,
      version_number / ${PRIME} as c
    from ${keyed} offset 0) as mixed`;
}

/**
 * Every source key with its version text and its key columns as text (key_0, key_1, …); for an integer key also
 * key_number and version_number (its microseconds, null while in flight).
 */
function sourceKeys(table: SourceTableSpec, watermark: string): string {
  const keyColumns = table.primaryKey
    .map((column, index) => `cast(${quoteIdent(column)} as varchar) as key_${index}`)
    .join(', ');
  const extracted = `updated_at <= ${timestampLiteral(watermark)}`;
  const numbers =
    keyShapeOf(table) === 'integer'
      ? `, cast(${quoteIdent(table.primaryKey[0] as string)} as bigint) as key_number,
        case when ${extracted} then {{ epoch_micros(updated_at) }} end as version_number`
      : '';
  return `select ${sourceKeyText(table)} as key_text, ${keyColumns},
      case when ${extracted} then {{ version_text(updated_at) }} else '${IN_FLIGHT}' end as version${numbers}
    from ${quoteIdent(table.name)}`;
}

/**
 * Every key the warehouse knows with its newest version, and whether its latest tombstone deletes it: key_text,
 * version, is_deleted; for an integer key also key_number and version_number. The newest bronze version per key is
 * kept in ops.reconcile_versions (key-versions.ts, brought up to date first); a quarantined version newer than it
 * counts too. An integer key is joined as its number (no text sort under the database collation), and its text is
 * the number's, as the extract wrote it.
 */
function warehouseKeys(table: SourceTableSpec): string {
  const source = `'${table.name}'`;
  const integer = keyShapeOf(table) === 'integer';
  const key = keyVersionColumn(table);
  const keyOf = (text: string) => (integer ? integerKeyNumber(text) : text);
  return `with quarantined as (
      select ${key}, max(updated_at) as updated_at
      from (select ${keyOf('source_key')} as ${key}, source_updated_at as updated_at from ops.quarantine_rows
            where source = ${source} and source_key is not null and source_updated_at is not null) as rows_set_aside
      where ${key} is not null group by ${key}
    ),
    latest as (
      select coalesce(kept.${key}, quarantined.${key}) as ${key},
        case when quarantined.updated_at is null or kept.updated_at >= quarantined.updated_at then kept.updated_at
          else quarantined.updated_at end as updated_at
      from (select ${key}, updated_at from ops.reconcile_versions where source = ${source}) as kept
      full join quarantined on quarantined.${key} = kept.${key}
    ),
    key_events as (
      select ${key}, key_event, detected_at,
        row_number() over (partition by ${key} order by detected_at desc, _ingested_at desc) as event_rank
      from (select ${keyOf('key_text')} as ${key}, key_event, detected_at, _ingested_at
            from bronze.source_deletes where source = ${source}) as events
      where ${key} is not null
    ),
    keyed as (
      select ${integer ? 'cast(latest.key_number as varchar(20)) as key_text, latest.key_number' : 'latest.key_text'},
        {{ version_text(latest.updated_at) }} as version,
        case when key_events.key_event = 'deleted' and key_events.detected_at > latest.updated_at then 1 else 0 end
          as is_deleted${integer ? ', {{ epoch_micros(latest.updated_at) }} as version_number' : ''}
      from latest
      left join key_events on key_events.${key} = latest.${key} and key_events.event_rank = 1
    )`;
}

/**
 * A warehouse key text as its bigint, or null when it is not the text of an integer: a quarantined record's key
 * is whatever the record held, and such a key cannot be in the source, so it is left out of the comparison.
 * CASE, not a filter, so the cast never runs on other text whatever order the planner evaluates conditions in.
 */
function integerKeyNumber(keyText: string): string {
  return `case when length(${keyText}) between 1 and 18 and ${keyText} <> '-'
      and translate(substr(${keyText}, 1, 1), '-0123456789', '') = ''
      and translate(substr(${keyText}, 2), '0123456789', '') = ''
    then cast(${keyText} as bigint) end`;
}

function summary(shape: KeyShape, keyed: string): string {
  if (shape === 'text')
    return `select ${bucketOf.text} as bucket, cast(count(*) as bigint) as key_count,
       cast(sum({{ hash32(key_text || '|' || version) }}) as bigint) as signature
     from ${keyed} group by ${bucketOf.text}`;
  return `select cast(${bucketOf.integer} as varchar(8)) as bucket, cast(count(*) as bigint) as key_count,
      cast(sum(${mixedHash}) as bigint) as signature
    from ${mixedInputs(keyed)} group by ${bucketOf.integer}`;
}

/** The listing's filter: the keys of some buckets (all when null). */
function inBuckets(shape: KeyShape, buckets: string[] | null): string {
  if (buckets === null) return '';
  const bad = buckets.filter((bucket) => !BUCKET[shape].test(bucket));
  if (bad.length > 0) throw new Error(`reconcile: malformed key bucket(s) ${bad.join(', ')}`);
  const labels = buckets.map((bucket) => (shape === 'integer' ? bucket : `'${bucket}'`));
  return `where ${bucketOf[shape]} in (${labels.join(', ')})`;
}

/** Per bucket: count and hash sum of the source's keys (rows at or below the watermark with their version). */
export function sourceSummarySql(table: SourceTableSpec, watermark: string): string {
  return expandMacros(summary(keyShapeOf(table), `(${sourceKeys(table, watermark)}) as keyed`), 'postgres', {
    columnType: columnTypeOf,
  });
}

/** Per bucket: count and hash sum of the warehouse's live (not deleted) keys. */
export function warehouseSummarySql(table: SourceTableSpec, dialect: SqlDialect): string {
  const shape = keyShapeOf(table);
  // `< 1`, not `= 0` (is_deleted is 0 or 1): PostgreSQL guesses an equality on a CASE keeps 0.5% of the keys, and
  // then sorted every key by bucket instead of hashing them (order_items at scale 30: 160 against 122 ms).
  return expandMacros(`${warehouseKeys(table)} ${summary(shape, 'keyed where is_deleted < 1')}`, dialect, {
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
     from (${sourceKeys(table, watermark)}) as keyed ${inBuckets(keyShapeOf(table), buckets)}
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
     select md5(key_text) as key_hash, key_text, version, is_deleted from keyed
     ${inBuckets(keyShapeOf(table), buckets)}
     order by {{ bytewise(md5(key_text)) }}`,
    dialect,
    { columnType: columnTypeOf },
  );
}
