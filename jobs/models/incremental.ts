/**
 * Incremental builds of the models declaring `-- incremental: unique_key=<key> [recompute_key=<column>]
 * lookback=<n> <unit> [whole_on=<table>,…]`: instead of rebuilding such a model from all of its input, the batch
 * build recomputes only the keys (the recompute key, by default the unique key) whose input rows changed since its
 * last build, with the model's own SQL, and replaces those keys' rows (delete + insert by key, valid on PostgreSQL
 * and Redshift alike). The result is the table a full rebuild would give, because a model's rows for a key depend
 * only on the input rows holding that key and on its whole_on inputs (models.ts, IncrementalSpec), and every way an
 * input row can change is caught:
 *
 * - new rows: each input has a change column (bronze `_ingested_at`, silver `_processed_at`); rows after the last
 *   build's high-water mark are new;
 * - late rows inside the lookback: a load or stream transaction open across the build commits rows stamped before
 *   that mark (`_ingested_at` is its transaction's start). The last build kept the row count per batch between its
 *   cutoff (high-water mark minus the lookback) and its mark; a batch with more rows there now is late, and its rows
 *   there are applied too;
 * - rows beyond the lookback: the last build summarised every row at or before its cutoff (per batch: row count,
 *   folded into one fingerprint); when that summary differs now, a row arrived there late or left, and the model
 *   is built whole (reason recorded): never silently wrong, only slower;
 * - rows leaving (a batch marked failed or skipped, or reloaded, takes its bronze rows out): the last build kept the
 *   per-batch row counts inside the lookback window; a batch with fewer rows now supplied rows that are gone, and a
 *   silver model recomputes the keys whose published row came from that batch (`_batch_id`): a batch that supplied
 *   only losing rows (a redelivery, an older version) changes nothing. A model without `_batch_id` (gold) is built
 *   whole instead;
 * - deletes: a model reading silver.deleted_keys also watches bronze.source_deletes (the reconciliation's
 *   tombstones, append-only): a new tombstone, or a key restored, recomputes that key;
 * - gold on silver (ChangeFeed.versioned): a silver row is replaced by its newer version in place, so a row leaving
 *   is normal and nothing settles: every batch is counted. A batch with more rows than before has all its keys
 *   recomputed; one with fewer is looked up in the silver model's bronze tables: gone, the model is built whole;
 *   still there, its rows were superseded by newer ones, which are new rows. A whole_on input (an FX rate names no
 *   order; silver.deleted_keys stands for the tombstones) builds the model whole on any change. Assumed, as the
 *   sources keep it: a row's recompute key is the same in all its versions, a batch commits in one transaction and
 *   leaves bronze whole;
 * - gold on gold (ChangeFeed.upstream): a gold input is another model, published whole or by increments in the
 *   same build, before this one. Its publications are its change feed: the build records the input's publication
 *   stamp (its ops.model_builds `built_at`, the publishing transaction's time); the next build finds it unchanged
 *   (the input not built, or kept unchanged: nothing to do), applied in place just before (the keys that increment
 *   recomputed, as the values of this model's recompute key in the rows it deleted and inserted, name what to
 *   recompute here: applyIncrement's value tables; a row rewritten the same in every column this model's SQL names,
 *   and in the input's unique key, changes nothing here and names nothing: comparedColumns), or built whole (this
 *   model is built whole too). A stamp other than the recorded one means a publication this model missed (it was not selected, or held back): built whole.
 *   A gold input that is not incremental (it names no key), or is listed in whole_on, builds the model whole
 *   whenever it is rebuilt;
 * - the model itself: the hash of its rendered SQL (with its key and lookback) is recorded; a changed model, a first
 *   build, a missing state or `--full-refresh` builds it whole. The PII key is in no SQL (validation derives
 *   the keyed hashes), so a rotated key takes a rebuild from the lake (`ecomm rebuild`), not a model rebuild.
 *
 * An increment's blocking checks read only the recomputed keys' rows where that is sound (model-tests.ts
 * checksChangedKeysOnly): the other rows were passed by the same tests, which are part of the model's hash.
 *
 * The state (ops.model_builds, ops.model_build_batches) is captured before the model is built, so a row arriving
 * during the build is applied again next time (recomputing a key is idempotent), and written in the transaction
 * that publishes the model, so it never runs ahead of what is published.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase, SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros } from '../../sql/dialects/macros.ts';
import { columnTypeOf } from '../contracts/data-contracts.ts';
import { BATCH_ID } from '../ops/bronze-batches.ts';
import { countRows, missingTables, tableColumns, tableExists } from './existing.ts';
import { type KeyedVia, type Model, SQL_ROOT } from './models.ts';

/** Where a model's input rows are watched for change, and how a changed row names the model's keys. */
export interface ChangeFeed {
  /** The watched table: one the model reads, or bronze.source_deletes for silver.deleted_keys. */
  table: string;
  /** When a row arrived: `_ingested_at` in bronze, `_processed_at` in silver. */
  changeColumn: string;
  /** A SELECT of the model's keys (as `k`) for the watched rows matching `where`. */
  keysOf(where: string): string;
  /** The model input read for the changed keys only (`keyExpression in keys`); null: read whole. */
  restricts: { table: string; keyExpression: string } | null;
  /** A batch leaving this table is traced to keys through the model's `_batch_id`. */
  tracesBatches: boolean;
  /** Any change here (a new, late or leaving row) builds the model whole (`whole_on=`): it names no key. */
  wholeOnChange?: boolean;
  /**
   * A silver input of a gold model: its rows are replaced by newer versions in place, so a row leaving is normal
   * and the lookback does not settle anything. Every batch is counted (no cutoff): a batch with more rows than the
   * last build saw has every row's key recomputed (rows appearing with an old stamp: a late row, a version
   * reverted to); a batch with fewer is checked in `bronzeSources`, the bronze tables the input is built from: gone
   * from them, its rows were taken out and the model is built whole; still there, its rows were superseded by newer
   * versions, which are new rows of the feed.
   */
  versioned?: { bronzeSources: string[] };
  /** A gold input (another model): its changes are its publications in this build, not stamped rows. */
  upstream?: true;
}

/** What the current build does to a gold input, when an incremental model reading it is planned. */
export type UpstreamBuild = 'kept' | 'applied' | 'rebuilt';

/** What a build saw of one feed. */
export interface FeedState {
  table: string;
  /**
   * The newest change time, as the database's text (to the microsecond: a load's rows share its transaction's
   * timestamp, and a mark cut to JavaScript's millisecond would have every build apply the last load again).
   */
  highWaterAt: string;
  /** highWaterAt minus the lookback: the next build checks the rows after it batch by batch, those before whole. */
  cutoffAt: Date;
  /**
   * Rows at or before cutoffAt, per batch, hashed; for a gold input its publication stamp, null when it is
   * published in this same build (its stamp is then the publishing transaction's time).
   */
  settledFingerprint: string | null;
  /** Rows per batch after cutoffAt (up to highWaterAt). */
  windowBatches: Map<string, number>;
}

export type BuildMode = 'full' | 'incremental';

export interface IncrementalPlan {
  model: Model;
  mode: BuildMode;
  /** Why the model is built whole, or what the increment covers. */
  reason: string;
  sqlHash: string;
  feeds: ChangeFeed[];
  /** What this build saw: recorded when the model is published. */
  captured: FeedState[];
  /** Time spent deciding and capturing the inputs' state (scans of the inputs): part of the model's build time. */
  planMs: number;
  /** For an incremental build: per feed, what changed since the last build. */
  changes: FeedChange[];
}

/** One feed's change since the last build. */
export interface FeedChange {
  feed: ChangeFeed;
  /** The last build's high-water mark (the database's text, checked by dateOf): every row after it is new. */
  after: string;
  /** The last build's cutoff: rows between it and `after` are new only in `lateBatches`. */
  cutoff: Date;
  /** Batches with more rows in (cutoff, after] than the last build saw there: committed after it, stamped before. */
  lateBatches: string[];
  /** Batches with fewer rows there: their rows left the input (failed, skipped, reloaded). */
  removedBatches: string[];
  /**
   * A bronze feed's batches with rows after `after` when the build read its profile: its new rows are read by batch,
   * through bronze's `_batch_id, _ingested_at` index. A batch arriving later is applied by the next build (the
   * recorded mark comes from the same profile). Absent: read by the change column alone.
   */
  newBatches?: string[];
}

const STATE_TABLES = ['model_builds', 'model_build_batches'];
const DELETES = 'silver.deleted_keys';
const TOMBSTONES = 'bronze.source_deletes';

/** Creates the state tables when missing (a job's ensureWarehouseSchema does too; tests may not run it). */
export async function ensureBuildState(db: SqlDatabase): Promise<void> {
  if (
    (
      await missingTables(
        db,
        STATE_TABLES.map((table) => `ops.${table}`),
      )
    ).length === 0
  )
    return;
  const ddl = STATE_TABLES.map((table) => readFileSync(join(SQL_ROOT, 'ops', `${table}.sql`), 'utf8'));
  await db.exec(['create schema if not exists ops', ...ddl].join(';\n'));
}

/** The feeds of an incremental model, from its inputs (models.ts checked their shape when parsing). */
export function feedsOf(
  model: Model,
  dialect: SqlDialect,
  bronzeSourcesOf: (table: string) => string[] = () => [],
  /** Whether a gold input is incremental: one that is not names no key, and counts as listed in whole_on. */
  isIncremental: (table: string) => boolean = () => true,
): ChangeFeed[] {
  const spec = model.incremental;
  if (!spec) throw new Error(`${model.name} (${model.file}) is not an incremental model`);
  const key = spec.uniqueKey;
  if (model.layer === 'silver') {
    const bronze = model.dependsOn.find((dep) => dep.startsWith('bronze.')) as string;
    const source = bronze.slice('bronze.'.length);
    // The key exactly as the model computes it from bronze text: trimmed, cast to the declared type.
    const keyExpression = expandMacros(`{{ cast_column(${source}.${key}) }}`, dialect, {
      columnType: columnTypeOf,
    });
    const feeds: ChangeFeed[] = [
      {
        table: bronze,
        changeColumn: '_ingested_at',
        keysOf: (where) => `select ${keyExpression} as k from ${bronze} where ${where}`,
        restricts: { table: bronze, keyExpression },
        tracesBatches: true,
      },
    ];
    if (model.dependsOn.includes(DELETES)) {
      // The model joins a tombstone on cast(<key> as varchar(20)) = key_text (sql/silver/orders.sql): the same here.
      feeds.push({
        table: TOMBSTONES,
        changeColumn: '_ingested_at',
        keysOf: (where) =>
          `select ${keyExpression} as k from ${bronze} where cast(${keyExpression} as varchar(20)) in ` +
          `(select key_text from ${TOMBSTONES} where source = '${source}' and ${where})`,
        restricts: null,
        tracesBatches: false,
      });
    }
    return feeds;
  }
  // Gold: a changed silver row names the model rows of its recompute key; a whole_on input names none.
  const recompute = spec.recomputeKey;
  const whole = new Set(spec.wholeOn);
  const feeds: ChangeFeed[] = model.dependsOn.map((input) =>
    input.startsWith('gold.')
      ? upstreamFeed(
          input,
          recompute,
          whole.has(input) || !isIncremental(input),
          spec.keyedVia.filter((via) => via.input === input),
        )
      : silverFeed(input),
  );
  // silver.deleted_keys has no change column of its own: its tombstones (append-only) stand for it.
  if (whole.has(DELETES))
    feeds.push({
      table: TOMBSTONES,
      changeColumn: '_ingested_at',
      keysOf: () => 'select null as k where 1 = 0',
      restricts: null,
      tracesBatches: false,
      wholeOnChange: true,
    });
  return feeds.filter((feed) => feed.table !== DELETES);

  function silverFeed(input: string): ChangeFeed {
    return {
      table: input,
      changeColumn: '_processed_at',
      keysOf: (where: string) => `select ${recompute} as k from ${input} where ${where}`,
      restricts: whole.has(input) ? null : { table: input, keyExpression: recompute },
      tracesBatches: false,
      wholeOnChange: whole.has(input),
      ...(whole.has(input) ? {} : { versioned: { bronzeSources: bronzeSourcesOf(input) } }),
    };
  }
}

/**
 * A gold input's feed: the values of `recompute` its increment in this build deleted or wrote (ChangeFeed.upstream),
 * and, keyed via a lookup, the recompute keys of the lookup's rows holding the changed values of its column (the
 * lookup is published before this model, so it holds this build's rows). Such an input is read whole.
 */
function upstreamFeed(input: string, recompute: string, wholeOnChange: boolean, via: KeyedVia[]): ChangeFeed {
  const throughLookups = via.map(
    (lookup) =>
      `select ${recompute} as k from ${lookup.lookup} where ${lookup.column} in ` +
      `(select k from ${changedValuesTable(input, lookup.column)})`,
  );
  return {
    table: input,
    changeColumn: 'built_at',
    keysOf: () =>
      [`select k from ${changedValuesTable(input, recompute)}`, ...throughLookups].join(' union all '),
    restricts: wholeOnChange || via.length > 0 ? null : { table: input, keyExpression: recompute },
    tracesBatches: false,
    wholeOnChange,
    upstream: true,
  };
}

/** The hash recorded with a build: a different one (model, key, lookback, macros) rebuilds it whole. */
export function modelSqlHash(model: Model, renderedSql: string): string {
  const spec = model.incremental;
  // The tests too: an increment's checks read only its recomputed keys (model-tests.ts checksChangedKeysOnly), which
  // is sound only while the other rows were passed by the same tests.
  const tests = model.tests.map((test) => `${test.severity} ${test.declaration}`).join('\n');
  return createHash('sha256')
    .update(
      `${spec?.uniqueKey}\n${spec?.recomputeKey}\n${spec?.wholeOn.join(',')}\n${JSON.stringify(spec?.keyedVia)}\n${spec?.lookbackSeconds}\n${tests}\n${renderedSql}`,
    )
    .digest('hex');
}

/**
 * Decides, for each incremental model among `models` (in dependency order), whether this build applies an
 * increment or builds it whole, and captures what the build sees of its inputs. `render` gives a model's SELECT as
 * the build runs it.
 */
export async function planIncrementalBuilds(
  db: SqlDatabase,
  models: Model[],
  options: {
    fullRefresh?: boolean;
    /** Built whole whatever their inputs (an increment held back by its checks), with this reason. */
    whole?: Map<string, string>;
    dialect: SqlDialect;
    render: (model: Model) => string;
    /** The bronze tables a silver model reads (ChangeFeed.versioned); unknown: none, a leaving row builds whole. */
    bronzeSourcesOf?: (table: string) => string[];
    /** What this build does to a gold input that is not among `models` (a model rebuilt whole, or not built). */
    upstream?: (table: string) => UpstreamBuild;
    isIncremental?: (table: string) => boolean;
  },
): Promise<Map<string, IncrementalPlan>> {
  const plans = new Map<string, IncrementalPlan>();
  const incremental = models.filter((model) => model.incremental);
  if (incremental.length === 0) return plans;
  await ensureBuildState(db);
  // Models reading the same input (gold.fact_sessions and gold.fact_cart_events) share its scans.
  const scans = new Map<string, Promise<unknown>>();
  const upstream = (table: string): UpstreamBuild => {
    const plan = plans.get(table);
    if (plan) return plan.mode === 'incremental' ? 'applied' : 'rebuilt';
    return options.upstream?.(table) ?? 'kept';
  };
  for (const model of incremental) {
    const started = performance.now();
    const wholeReason = options.whole?.get(model.name);
    const plan = await planModel(db, model, {
      ...options,
      fullRefresh: options.fullRefresh || wholeReason !== undefined,
      scans,
      upstream,
    });
    if (wholeReason !== undefined) plan.reason = wholeReason;
    plans.set(model.name, { ...plan, planMs: performance.now() - started });
  }
  return plans;
}

interface RecordedFeed {
  input_table: string;
  sql_hash: string;
  high_water_at: string;
  cutoff_at: Date | string;
  settled_fingerprint: string;
}

/** Scans of the inputs already made by this planning, by what they read. */
type ScanCache = Map<string, Promise<unknown>>;

function cached<T>(scans: ScanCache, key: string, scan: () => Promise<T>): Promise<T> {
  if (!scans.has(key)) scans.set(key, scan());
  return scans.get(key) as Promise<T>;
}

async function planModel(
  db: SqlDatabase,
  model: Model,
  options: {
    fullRefresh?: boolean;
    dialect: SqlDialect;
    render: (model: Model) => string;
    bronzeSourcesOf?: (table: string) => string[];
    isIncremental?: (table: string) => boolean;
    scans: ScanCache;
    upstream: (table: string) => UpstreamBuild;
  },
): Promise<IncrementalPlan> {
  const lookbackSeconds = model.incremental?.lookbackSeconds ?? 0;
  const feeds = feedsOf(model, options.dialect, options.bronzeSourcesOf, options.isIncremental);
  const sqlHash = modelSqlHash(model, options.render(model));
  const captured: FeedState[] = [];
  for (const feed of feeds)
    captured.push(
      feed.upstream
        ? await captureUpstream(db, feed, options.upstream(feed.table))
        : await cached(
            options.scans,
            `capture ${feed.table} ${feed.versioned ? 'all' : lookbackSeconds}`,
            () => captureFeed(db, feed, lookbackSeconds, options.scans),
          ),
    );
  const plan = { model, sqlHash, feeds, captured, planMs: 0 };
  const full = (reason: string): IncrementalPlan => ({ ...plan, mode: 'full', reason, changes: [] });
  if (options.fullRefresh) return full('full refresh asked');
  if (!(await tableExists(db, model.name))) return full('first build');
  const recorded = await db.query<RecordedFeed & Record<string, unknown>>(
    `select input_table, sql_hash, cast(high_water_at as varchar(40)) as high_water_at, cutoff_at, settled_fingerprint
     from ops.model_builds where model = $1`,
    [model.name],
  );
  const batches = await db.query<{ input_table: string; batch_id: string; row_count: unknown }>(
    'select input_table, batch_id, row_count from ops.model_build_batches where model = $1',
    [model.name],
  );
  const changes: IncrementalPlan['changes'] = [];
  for (const feed of feeds) {
    const last = recorded.find((row) => row.input_table === feed.table);
    if (!last) return full(`no recorded build of ${feed.table} (first incremental build)`);
    if (last.sql_hash !== sqlHash) return full('model SQL changed since its last build');
    if (feed.upstream) {
      const stamp = await publicationStamp(db, feed.table);
      if (stamp !== last.settled_fingerprint)
        return full(`${feed.table} was published since this model's last build without it`);
      const build = options.upstream(feed.table);
      if (build === 'rebuilt' || (build === 'applied' && feed.wholeOnChange))
        return full(
          `${feed.table} changes in this build (${build === 'rebuilt' ? 'built whole' : 'whole_on'})`,
        );
      if (build === 'applied')
        changes.push({ feed, after: EPOCH, cutoff: dateOf(EPOCH), lateBatches: [], removedBatches: [] });
      continue;
    }
    const cutoffAt = new Date(last.cutoff_at);
    const highWaterAt = last.high_water_at;
    dateOf(highWaterAt); // throws unless it is a timestamp: it is written into the key query
    const profile = await feedProfile(db, feed, options.scans);
    const counted = countBatches(profile, cutoffAt, highWaterAt);
    if (counted.settledFingerprint !== last.settled_fingerprint) {
      return full(
        `${feed.table} rows at or before ${cutoffAt.toISOString()} changed since the last build ` +
          '(a row later than the lookback, or a batch removed)',
      );
    }
    const now = counted.windowBatches;
    const seen = new Map(
      batches
        .filter((row) => row.input_table === feed.table)
        .map((row) => [row.batch_id, Number(row.row_count)]),
    );
    const removedBatches = [...seen]
      .filter(([batch, rows]) => (now.get(batch) ?? 0) < rows)
      .map(([batch]) => batch);
    // Rows the last build could not see although stamped before its high-water mark: a transaction committed late.
    const lateBatches = [...now]
      .filter(([batch, rows]) => rows > (seen.get(batch) ?? 0))
      .map(([batch]) => batch);
    const seenNow = captured[feeds.indexOf(feed)];
    if (
      feed.wholeOnChange &&
      (seenNow?.highWaterAt !== highWaterAt || lateBatches.length > 0 || removedBatches.length > 0)
    )
      return full(`${feed.table} changed since the last build (any change to it builds the model whole)`);
    if (feed.versioned && removedBatches.length > 0) {
      const gone = await batchesGoneFrom(db, feed.versioned.bronzeSources, removedBatches);
      if (gone.length > 0)
        return full(`rows of ${gone.length} batch(es) left ${feed.table} (${gone.slice(0, 3).join(', ')})`);
      changes.push({ feed, after: highWaterAt, cutoff: cutoffAt, lateBatches, removedBatches: [] });
      continue;
    }
    if (
      removedBatches.length > 0 &&
      !(feed.tracesBatches && (await tableColumns(db, model.name)).includes('_batch_id'))
    ) {
      return full(
        `rows of ${removedBatches.length} batch(es) left ${feed.table} (${removedBatches.slice(0, 3).join(', ')})`,
      );
    }
    const newBatches = feed.tracesBatches ? batchesAfter(profile, highWaterAt) : undefined;
    changes.push({ feed, after: highWaterAt, cutoff: cutoffAt, lateBatches, removedBatches, newBatches });
  }
  const since = changes.map(
    (change) =>
      `${change.feed.table} after ${change.after}` +
      (change.lateBatches.length > 0 ? ` and ${change.lateBatches.length} late batch(es)` : '') +
      (change.removedBatches.length > 0 ? `, ${change.removedBatches.length} batch(es) removed` : ''),
  );
  return { ...plan, mode: 'incremental', reason: since.join('; '), changes };
}

/**
 * The batches among `batches` no longer in any of the bronze tables `sources` (none listed: all of them): their
 * rows were taken out (failed, skipped), not superseded.
 */
async function batchesGoneFrom(db: SqlDatabase, sources: string[], batches: string[]): Promise<string[]> {
  const unsafe = batches.filter((id) => !BATCH_ID.test(id));
  if (sources.length === 0 || unsafe.length > 0) return batches;
  const listed = batches.map((id) => `'${id}'`).join(', ');
  const present = new Set<string>();
  for (const source of sources) {
    const rows = await db.query<{ batch_id: string }>(
      `select distinct _batch_id as batch_id from ${source} where _batch_id in (${listed})`,
    );
    for (const row of rows) present.add(row.batch_id);
  }
  return batches.filter((id) => !present.has(id));
}

async function captureFeed(
  db: SqlDatabase,
  feed: ChangeFeed,
  lookbackSeconds: number,
  scans: ScanCache,
): Promise<FeedState> {
  const profile = await feedProfile(db, feed, scans);
  const highWaterAt = profile.highWaterAt;
  // A versioned feed settles nothing: every batch is counted (ChangeFeed.versioned).
  const cutoffAt = feed.versioned
    ? dateOf(EPOCH)
    : new Date(dateOf(highWaterAt).getTime() - lookbackSeconds * 1000);
  return { table: feed.table, highWaterAt, cutoffAt, ...countBatches(profile, cutoffAt, highWaterAt) };
}

/**
 * A gold input's state: its publication stamp, or null when this build publishes it (recordBuild writes the
 * publishing transaction's time, which is the stamp the input gets).
 */
async function captureUpstream(db: SqlDatabase, feed: ChangeFeed, build: UpstreamBuild): Promise<FeedState> {
  return {
    table: feed.table,
    highWaterAt: EPOCH,
    cutoffAt: dateOf(EPOCH),
    settledFingerprint: build === 'kept' ? await publicationStamp(db, feed.table) : null,
    windowBatches: new Map(),
  };
}

/** When a model was last published (its recorded builds' `built_at`, whole or incremental), as text. */
export async function publicationStamp(db: SqlDatabase, model: string): Promise<string> {
  const [row] = await db.query<{ built_at: string | null }>(
    'select cast(max(built_at) as varchar(40)) as built_at from ops.model_builds where model = $1',
    [model],
  );
  return row?.built_at ?? 'never published';
}

/** The batches of a profile with rows after `after`. */
function batchesAfter(profile: FeedProfile, after: string): string[] {
  const mark = microsOf(after);
  return [...new Set(profile.groups.filter((group) => group.changedAt > mark).map((group) => group.batchId))];
}

/**
 * The statements that read a feed, as run: its rows per batch and change time, in one scan (feedProfile); the model
 * keys of its changed rows.
 */
export function feedQueries(feed: ChangeFeed) {
  const change = feed.changeColumn;
  const listed = (batches: string[]) => batches.map((id) => `'${id}'`).join(', ');
  return {
    profile: `select _batch_id as batch_id, cast(${change} as varchar(40)) as changed_at, count(*) as row_count
     from ${feed.table} where ${change} is not null group by _batch_id, ${change}`,
    /** Keys of the rows after the high-water mark (of the new batches, when listed), and of the late batches' rows after the cutoff. */
    keysChanged: (since: Pick<FeedChange, 'after' | 'cutoff' | 'lateBatches' | 'newBatches'>) => {
      const after = `${change} > cast('${since.after}' as timestamptz)`;
      const newRows =
        since.newBatches === undefined
          ? after
          : since.newBatches.length === 0
            ? '1 = 0'
            : `(_batch_id in (${listed(since.newBatches)}) and ${after})`;
      const lateRows =
        since.lateBatches.length === 0
          ? ''
          : ` or (${change} > ${timestampLiteral(since.cutoff)} and _batch_id in (${listed(since.lateBatches)}))`;
      return feed.keysOf(`(${newRows}${lateRows})`);
    },
  };
}

/** A feed's rows counted per batch and change time: what its high-water mark and every batch count derive from. */
interface FeedProfile {
  highWaterAt: string;
  groups: { batchId: string; changedAt: bigint; rows: number }[];
}

/**
 * One grouped scan of the feed per planning, shared by every model reading it: a batch's rows share their change
 * time (its load's or stream round's transaction start), so the groups are about one per batch, and the
 * high-water mark and the counts before and after any cutoff are computed from them, not by a scan each.
 */
function feedProfile(db: SqlDatabase, feed: ChangeFeed, scans: ScanCache): Promise<FeedProfile> {
  return cached(scans, `profile ${feed.table} ${feed.changeColumn}`, async () => {
    const rows = await db.query<{ batch_id: string; changed_at: string; row_count: unknown }>(
      feedQueries(feed).profile,
    );
    let highWaterAt = EPOCH;
    let highWater = microsOf(EPOCH);
    const groups = rows.map((row) => {
      const changedAt = microsOf(String(row.changed_at));
      if (changedAt > highWater) {
        highWater = changedAt;
        highWaterAt = String(row.changed_at);
      }
      return { batchId: row.batch_id, changedAt, rows: Number(row.row_count) };
    });
    return { highWaterAt, groups };
  });
}

/**
 * The feed's rows up to `upTo`: those at or before `cutoff`, per batch, folded into one fingerprint (a row arriving
 * there, or leaving, changes it), and the rows per batch after the cutoff.
 */
function countBatches(
  profile: FeedProfile,
  cutoff: Date,
  upTo: string,
): Pick<FeedState, 'settledFingerprint' | 'windowBatches'> {
  const cutoffMicros = BigInt(cutoff.getTime()) * 1000n;
  const upToMicros = microsOf(upTo);
  const settledRows = new Map<string, number>();
  const windowBatches = new Map<string, number>();
  for (const group of profile.groups) {
    if (group.changedAt > upToMicros) continue;
    const counts = group.changedAt <= cutoffMicros ? settledRows : windowBatches;
    counts.set(group.batchId, (counts.get(group.batchId) ?? 0) + group.rows);
  }
  const settled = [...settledRows].map(([batch, rows]) => `${batch}:${rows}`).sort();
  const settledFingerprint = `${settled.length}:${createHash('sha256').update(settled.join('\n')).digest('hex')}`;
  return { settledFingerprint, windowBatches };
}

const TEMP = {
  keys: 'ecomm_delta_keys',
  rows: 'ecomm_delta_rows',
  input: 'ecomm_delta_input',
  old: 'ecomm_delta_old',
} as const;

/**
 * A column whose changed values an increment keeps for the models downstream (changedValuesTable), and the
 * incremental models recomputing by them, each with the words of its rendered SQL (namedWords: which of this model's
 * columns it reads; null when it may read columns it does not name): none for the parent column of a relationships
 * check, where only values appearing or leaving matter.
 */
export interface ValueColumn {
  column: string;
  readers: { name: string; named: ReadonlySet<string> | null }[];
}

export interface AppliedIncrement {
  /** Keys recomputed. */
  keys: number;
  /** Rows written for them. */
  rows: number;
  /**
   * A temporary table (column k) of the keys recomputed and written, for the model's checks (model-tests.ts
   * ChangedKeys); the caller drops it (dropCheckedKeys) once they ran.
   */
  keysTable: string;
}

/** The temporary table of the keys an increment of `model` recomputed, kept for its checks. */
export function checkedKeysTable(model: string): string {
  return `ecomm_checked_keys_${model.replace('.', '_')}`;
}

/**
 * The temporary table (column k) of the values of `column` in the rows an increment of `model` deleted or wrote:
 * what a model reading it recomputes (upstreamFeed).
 */
export function changedValuesTable(model: string, column: string): string {
  return `ecomm_changed_${model.replace('.', '_')}__${column}`;
}

/** Drops the temporary tables an increment of `model` kept: its checked keys and its changed values. */
export async function dropCheckedKeys(
  tx: SqlDatabase,
  model: string,
  valueColumns: ValueColumn[] = [],
): Promise<void> {
  for (const table of [
    checkedKeysTable(model),
    ...valueColumns.map((value) => changedValuesTable(model, value.column)),
  ])
    await tx.exec(`drop table if exists ${table}`);
}

/**
 * Applies an incremental plan to the published table, inside the caller's (publishing) transaction: the changed
 * keys, their input rows, the model's SELECT on those rows (`render` gets the inputs to read instead, as a
 * rename), then delete + insert by key. Throws the database's error as is (the caller names the model).
 */
export async function applyIncrement(
  tx: SqlDatabase,
  plan: IncrementalPlan,
  render: (renames: Map<string, string>) => string,
  /** Columns whose changed values models reading this one recompute by (changedValuesTable); kept like the keys. */
  valueColumns: ValueColumn[] = [],
): Promise<AppliedIncrement> {
  const model = plan.model;
  // What is deleted and computed again: the rows holding each changed recompute key (the unique key by default).
  const key = model.incremental?.recomputeKey as string;
  const removed = plan.changes.flatMap((change) => change.removedBatches);
  const late = plan.changes.flatMap((change) => change.lateBatches);
  const fresh = plan.changes.flatMap((change) => change.newBatches ?? []);
  const unsafe = [...removed, ...late, ...fresh].filter((id) => !BATCH_ID.test(id));
  if (unsafe.length > 0) throw new Error(`unexpected batch id(s) ${unsafe.join(', ')}`);
  const keySources = plan.changes
    .filter((change) => !change.feed.wholeOnChange)
    .map((change) => feedQueries(change.feed).keysChanged(change));
  if (removed.length > 0)
    keySources.push(
      `select ${key} as k from ${model.name} where _batch_id in (${removed.map((id) => `'${id}'`).join(', ')})`,
    );
  await dropTemporary(tx, plan);
  // A null names no row (`in` never matches it): an anonymous session's customer, for one.
  await tx.exec(
    `create temp table ${TEMP.keys} as select distinct k from (\n${keySources.join('\nunion all\n')}\n) changed_keys where k is not null`,
  );
  const renames = new Map<string, string>();
  for (const [index, change] of plan.changes.entries()) {
    const restricts = change.feed.restricts;
    if (!restricts || renames.has(restricts.table)) continue;
    const temp = `${TEMP.input}_${index}`;
    await tx.exec(`create temp table ${temp} as ${restrictedInput(restricts, TEMP.keys)}`);
    renames.set(restricts.table, temp);
  }
  await tx.exec(`create temp table ${TEMP.rows} as\n${render(renames)}`);
  await dropCheckedKeys(tx, model.name, valueColumns);
  if (valueColumns.length > 0)
    await tx.exec(
      `create temp table ${TEMP.old} as select * from ${model.name} where ${key} in (select k from ${TEMP.keys})`,
    );
  await tx.exec(`delete from ${model.name} where ${key} in (select k from ${TEMP.keys})`);
  await tx.exec(`insert into ${model.name} select * from ${TEMP.rows}`);
  const compared = await comparedColumns(tx, model, valueColumns);
  for (const { column } of valueColumns) {
    // The values in the rows that left or arrived, as the readers see them: a row rewritten the same in every
    // column compared (an order's status moving on, to a model reading amounts and dates) changes nothing there.
    // The unique key is compared too, so each side's rows are distinct and `except` loses no repeated row.
    const columns = compared.get(column) ?? '*';
    const table = changedValuesTable(model.name, column);
    await tx.exec(
      `create temp table ${table} as select distinct ${column} as k from ` +
        `(select ${columns} from ${TEMP.old} except select ${columns} from ${TEMP.rows}) left_rows`,
    );
    await tx.exec(
      `insert into ${table} select distinct ${column} from ` +
        `(select ${columns} from ${TEMP.rows} except select ${columns} from ${TEMP.old}) arrived_rows`,
    );
  }
  const keys = await countRows(tx, TEMP.keys);
  const rows = await countRows(tx, TEMP.rows);
  // Every key whose rows changed: those recomputed, and any the model's SELECT wrote besides (none, if its rows
  // depend only on their key's input rows; checked anyway, so a wrong declaration cannot hide from the checks).
  const keysTable = checkedKeysTable(model.name);
  await tx.exec(`drop table if exists ${keysTable}`);
  await tx.exec(
    `create temp table ${keysTable} as select k from ${TEMP.keys} union select ${key} as k from ${TEMP.rows}`,
  );
  await dropTemporary(tx, plan);
  return { keys, rows, keysTable };
}

/**
 * Per value column, the columns of `model` whose change can change what its readers compute (as a select list):
 * the column, the model's unique key, and every column a reader's SQL names; `*` when a reader can depend on a column
 * it does not name (namedWords: a set operation, a natural join; or a column it passes on by `*`, which its own
 * table then holds under the same name) or a table's columns cannot be read.
 */
async function comparedColumns(
  tx: SqlDatabase,
  model: Model,
  valueColumns: ValueColumn[],
): Promise<Map<string, string>> {
  const compared = new Map<string, string>();
  if (valueColumns.length === 0) return compared;
  const own = await tableColumns(tx, model.name);
  const uniqueKey = (model.incremental?.uniqueKey ?? '').split(',').map((column) => column.trim());
  // A reader recomputing by several of this model's columns is looked up once.
  const readerColumns = new Map<string, Promise<string[]>>();
  const columnsOf = (name: string) => {
    if (!readerColumns.has(name)) readerColumns.set(name, tableColumns(tx, name));
    return readerColumns.get(name) as Promise<string[]>;
  };
  for (const value of valueColumns) {
    const kept = new Set([value.column, ...uniqueKey]);
    let every = own.length === 0 || uniqueKey.some((column) => !own.includes(column));
    for (const { name, named } of every ? [] : value.readers) {
      const passedOn = named === null ? [] : await columnsOf(name);
      if (named === null || passedOn.length === 0 || own.some((c) => !named.has(c) && passedOn.includes(c))) {
        every = true;
        break;
      }
      for (const column of own) if (named.has(column)) kept.add(column);
    }
    compared.set(value.column, every ? '*' : own.filter((column) => kept.has(column)).join(', '));
  }
  return compared;
}

/** An input's rows holding the keys listed in `keysTable` (column k). */
export function restrictedInput(restricts: NonNullable<ChangeFeed['restricts']>, keysTable: string): string {
  return `select * from ${restricts.table} where ${restricts.keyExpression} in (select k from ${keysTable})`;
}

/** Records what the published build saw; in the publishing transaction. */
export async function recordBuild(tx: SqlDatabase, plan: IncrementalPlan): Promise<void> {
  const model = plan.model.name;
  await tx.query('delete from ops.model_builds where model = $1', [model]);
  await tx.query('delete from ops.model_build_batches where model = $1', [model]);
  // One statement for the inputs and one per chunk of batches, not one per input.
  const inputs = plan.captured.map((_, index) => {
    const at = 4 + index * 4;
    return `($1, $${at}, $2, $${at + 1}, $${at + 2}, coalesce($${at + 3}, cast(current_timestamp as varchar(40))), $3, current_timestamp)`;
  });
  if (inputs.length > 0)
    await tx.query(
      `insert into ops.model_builds (model, input_table, sql_hash, high_water_at, cutoff_at, settled_fingerprint,
         mode, built_at)
       values ${inputs.join(', ')}`,
      [
        model,
        plan.sqlHash,
        plan.mode,
        ...plan.captured.flatMap((state) => [
          state.table,
          state.highWaterAt,
          state.cutoffAt,
          state.settledFingerprint,
        ]),
      ],
    );
  const batches = plan.captured.flatMap((state) =>
    [...state.windowBatches].map(([batch, rows]) => [state.table, batch, rows] as const),
  );
  for (let start = 0; start < batches.length; start += BATCH_ROWS_PER_INSERT) {
    const chunk = batches.slice(start, start + BATCH_ROWS_PER_INSERT);
    const values = chunk.map((_, index) => `($1, $${3 * index + 2}, $${3 * index + 3}, $${3 * index + 4})`);
    await tx.query(
      `insert into ops.model_build_batches (model, input_table, batch_id, row_count) values ${values.join(', ')}`,
      [model, ...chunk.flat()],
    );
  }
}

/** Well under the bind-parameter limits of PostgreSQL (65,535) and Redshift (32,767). */
const BATCH_ROWS_PER_INSERT = 1000;

async function dropTemporary(tx: SqlDatabase, plan: IncrementalPlan): Promise<void> {
  const inputs = plan.changes.map((_, index) => `${TEMP.input}_${index}`);
  for (const table of [TEMP.keys, TEMP.rows, TEMP.old, ...inputs])
    await tx.exec(`drop table if exists ${table}`);
}

const EPOCH = '1970-01-01 00:00:00+00';

/** A timestamp's text as the database writes it (`2026-10-01 12:00:00.123456+00`) as a Date, to the millisecond. */
function dateOf(text: string): Date {
  const match =
    /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,3})?\d*\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      text.trim(),
    );
  if (!match) throw new Error(`unexpected timestamp text "${text}"`);
  const zone =
    match[4] === undefined || match[4] === 'Z' ? 'Z' : match[4].length === 3 ? `${match[4]}:00` : match[4];
  return new Date(`${match[1]}T${match[2]}${match[3] ?? ''}${zone}`);
}

/** A timestamp's text as the database writes it, in whole microseconds since 1970 (its full precision). */
function microsOf(text: string): bigint {
  const match =
    /^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      text.trim(),
    );
  if (!match) throw new Error(`unexpected timestamp text "${text}"`);
  const seconds = dateOf(`${match[1]}${match[3] ?? ''}`).getTime();
  return BigInt(seconds) * 1000n + BigInt((match[2] ?? '').padEnd(6, '0'));
}

/** A timestamp as a literal both engines read the same: UTC, to the millisecond (JavaScript's precision). */
function timestampLiteral(at: Date): string {
  return `cast('${at.toISOString().replace('T', ' ').replace('Z', '+00')}' as timestamptz)`;
}
