/**
 * Builds the silver and gold models inside the warehouse, a layer at a time, behind the layer's gate: every
 * selected model of the layer is built into `<layer>.<name>__next` (in dependency order, a model reading its own
 * layer reads the other model's `__next`), the layer's declared checks run on those `__next` tables, and in one
 * transaction every model that passed is swapped in, while a model whose blocking check failed is held back with
 * everything downstream of it (what reads it, or checks against it): its previous table stays published and its
 * `__next` is dropped. A build error publishes nothing of the layer and leaves no `__next` table behind.
 * Rebuilding from the same bronze gives the same rows (models are deterministic), which keeps reruns idempotent
 * (invariant 2).
 */
import type { SqlDatabase, SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { bronzeTableSql, expandMacros, lockForWriteSql, type MacroVars } from '../../sql/dialects/macros.ts';
import { columnTypeOf } from '../contracts/data-contracts.ts';
import { inDependencyOrder } from '../lanes.ts';
import { BATCH_ID } from '../ops/bronze-batches.ts';
import { countRows, missingSchemas, tableExists } from './existing.ts';
import {
  applyIncrement,
  type BuildMode,
  changedValuesTable,
  dropCheckedKeys,
  feedsOf,
  type IncrementalPlan,
  planIncrementalBuilds,
  recordBuild,
  type ValueColumn,
} from './incremental.ts';
import {
  type ChangedKeysOf,
  checksChangedValuesOnly,
  inputRelationships,
  type ModelTestResult,
  relationshipParents,
  runModelTests,
  type TableResolver,
} from './model-tests.ts';
import {
  downstreamOf,
  type IncrementalSpec,
  loadBronzeTables,
  loadModels,
  loadPiiTables,
  MODEL_LAYERS,
  type Model,
  type ModelLayer,
  namedWords,
  orderModels,
  renameTableReferences,
  SQL_ROOT,
  upstreamOf,
  type WarehouseLayer,
} from './models.ts';
import { planUnchanged, recordWholeBuild } from './unchanged.ts';

export interface BuildOptions {
  /** Values for the macros (the column types; no secret: no model hashes with a key). */
  vars: MacroVars;
  /** Overrides the database's dialect (for tests of the Redshift rendering). */
  dialect?: SqlDialect;
  /** Build only the models of these layers (e.g. `['silver']` to gate silver before gold); default: all. */
  layers?: ModelLayer[];
  /**
   * Build only these models (`silver.orders`), still in dependency order; default: all. Only their checks gate the
   * publish, and the models of their layer left out are read as published.
   */
  only?: string[];
  /** Build every incremental model whole (`--full-refresh`) instead of applying what changed. */
  fullRefresh?: boolean;
  /** Called for each model once it has been published. */
  onModelBuilt?: (result: ModelBuildResult) => void;
  /**
   * Tables already held back upstream (a bronze table whose blocking check failed, a blocked model of an earlier
   * layer): the selected models downstream of them are not built and keep their published tables.
   */
  heldBack?: HeldBackTable[];
  /** The clock of the per-model timings (startedAt, finishedAt); default: the system's. */
  now?: () => Date;
  /**
   * The role each new table is handed to once built (PostgreSQL: ecomm_models, jobs/grants/policy.ts), so every
   * login that builds models may swap it; unset: the building login keeps it (PGlite, Redshift, no policy applied).
   */
  tableOwner?: string;
  /**
   * Models built side by side before the publishing transaction (each once what it reads is built), and their
   * checks after; default 1. The publishing transaction is one connection: what runs there runs in turn.
   */
  concurrency?: number;
}

/** A table kept at its last published state, and the failing blocking checks that keep it there. */
export interface HeldBackTable {
  /** `<layer>.<name>` */
  name: string;
  /** Check ids: the table's own failing blocking checks, or those of what it is downstream of. */
  blockedBy: string[];
}

/** A selected model not published by this build: its previous table (if any) is untouched. */
export interface BlockedModel extends HeldBackTable {
  layer: ModelLayer;
  /** Its `__next` build, when it was built and checked before being held back; absent when never built. */
  build?: ModelBuildResult;
}

export interface ModelBuildResult {
  /** `<layer>.<name>` */
  name: string;
  layer: ModelLayer;
  file: string;
  /** Rows in the new table. */
  rows: number;
  /** Time to build this model's `__next` table (or apply its increment) and count it (checks and swap excluded). */
  ms: number;
  /** When that build started and finished, on the build's clock (BuildOptions.now): the same span as `ms`. */
  startedAt: Date;
  finishedAt: Date;
  /**
   * True when the model was not rebuilt: it is not incremental and its SQL and inputs are as at its last published
   * build (unchanged.ts), so its published table stands (rows: its row count, ms: 0) and its checks did not run.
   */
  unchanged?: boolean;
  /** An incremental model's build: whole or only what changed (incremental.ts), and why. */
  incremental?: {
    mode: BuildMode;
    reason: string;
    keys?: number;
    /** Time spent reading the inputs' state before the layer's builds (not in `ms` or the build's span). */
    planMs?: number;
  };
}

/** One layer through its gate. */
export interface LayerBuild {
  layer: ModelLayer;
  /** The selected models of the layer built and published (swapped in), in build order. */
  built: ModelBuildResult[];
  /** The selected models held back, each with the checks that hold it: their published tables are untouched. */
  blocked: BlockedModel[];
  /** The built models' declared checks, run on the `__next` tables; ids and table names are the published ones. */
  checks: ModelTestResult[];
  /** Ids of this layer's blocking checks that failed (those held back by an earlier layer are in `blocked`). */
  blockedBy: string[];
}

/**
 * A model failed: names the model and its file and carries the database's message (never the SQL); the database's
 * error is its cause, so its SQLSTATE tells bad data from an outage.
 */
export class ModelBuildError extends Error {
  readonly model: string;
  readonly file: string;
  readonly layer: ModelLayer;
  constructor(model: Model, reason: string, options?: ErrorOptions) {
    super(`model ${model.name} (${model.file}) failed to build: ${reason}`, options);
    this.name = 'ModelBuildError';
    this.model = model.name;
    this.file = model.file;
    this.layer = model.layer;
  }
}

/** buildModels' answer to a shut gate: these models were held back (everything else was published). */
export class ModelsBlockedError extends Error {
  readonly blocked: BlockedModel[];
  /** The failing blocking checks that hold them back. */
  readonly blockedBy: string[];
  constructor(blocked: BlockedModel[]) {
    const blockedBy = [...new Set(blocked.flatMap((model) => model.blockedBy))].sort();
    super(
      `not published: ${blocked.map((model) => model.name).join(', ')}: blocking checks failed: ${blockedBy.join(', ')}`,
    );
    this.name = 'ModelsBlockedError';
    this.blocked = blocked;
    this.blockedBy = blockedBy;
  }
}

const LAYERS: WarehouseLayer[] = ['bronze', 'silver', 'gold'];

/** The restricted schema holding personal data in clear (sql/pii/): only the data_engineer role reads it. */
export const PII_SCHEMA = 'pii';

/** Creates the schemas that are missing (only those: a job's login may not create schemas). */
export async function createSchemas(db: SqlDatabase): Promise<void> {
  const missing = await missingSchemas(db, [...LAYERS, PII_SCHEMA]);
  if (missing.length > 0)
    await db.exec(missing.map((schema) => `create schema if not exists ${schema}`).join(';\n'));
}

/**
 * Creates the bronze tables from sql/bronze and the restricted landing tables from sql/pii if missing (the DDL is
 * `create table if not exists`), with their schemas.
 */
export async function createBronzeTables(db: SqlDatabase, sqlRoot: string = SQL_ROOT): Promise<void> {
  await createSchemas(db);
  for (const table of [...loadBronzeTables(sqlRoot), ...loadPiiTables(sqlRoot)])
    await db.exec(bronzeTableSql(table.name, table.sql, db.dialect));
  if (db.dialect !== 'redshift') {
    const indexes = incrementalBronzeIndexes(loadModels(sqlRoot));
    if (indexes.length > 0) await db.exec(indexes.join(';\n'));
  }
}

/**
 * The PostgreSQL index on bronze that keeps an incremental silver model's hourly increment in proportion to its
 * changes when its key stays text (trimmed): the increment reads every bronze row of the changed keys, by the key as
 * the model computes it. Without it each increment read its bronze table whole (order_events at scale 30: 137 ms
 * against a few). A hash index: inserting 710k rows cost 1.1 s more with it against 3.5 s more with a btree (the
 * keys arrive in no order), and the lookups are equalities. Its new rows the increment finds by batch through the
 * `_batch_id, _ingested_at` index (incremental.ts FeedChange.newBatches). An integer key is cast from bronze text:
 * an index on the cast would make a row an older release let in, which the cast refuses, fail the load and this DDL
 * instead of its model, so it is not indexed. Redshift has no indexes (its zone maps do without).
 */
export function incrementalBronzeIndexes(models: Model[]): string[] {
  const statements = new Set<string>();
  for (const model of models) {
    if (model.layer !== 'silver' || !model.incremental) continue;
    const key = model.incremental.uniqueKey;
    for (const feed of feedsOf(model, 'postgres')) {
      if (!feed.restricts || !feed.table.startsWith('bronze.')) continue;
      const name = feed.table.slice('bronze.'.length);
      if (columnTypeOf(name, key)?.kind === 'text')
        statements.add(
          `create index if not exists ${name}__key_${key} on ${feed.table} using hash ((${feed.restricts.keyExpression}))`,
        );
    }
  }
  return [...statements];
}

/** The SELECT a model runs on a dialect, macros expanded. Holds no secret: the PII hashes are columns already. */
export function renderModelSql(model: Model, dialect: SqlDialect, vars: MacroVars): string {
  return expandMacros(model.sql, dialect, { columnType: columnTypeOf, ...vars });
}

/** The table a model is built into before its layer's gate passes. */
export function nextTableOf(name: string): string {
  return `${name}__next`;
}

/**
 * Builds the selected models layer by layer (silver, then gold), each layer through its gate (buildLayer), a
 * model held back in one layer holding back what reads it in the next. Throws ModelsBlockedError, once everything
 * else is published, when a blocking check held models back, and ModelBuildError when a model fails to build (its
 * layer is not published).
 */
export async function buildModels(
  db: SqlDatabase,
  models: Model[],
  options: BuildOptions,
): Promise<ModelBuildResult[]> {
  checkOnly(models, options.only);
  const results: ModelBuildResult[] = [];
  const blocked: BlockedModel[] = [];
  for (const layer of MODEL_LAYERS) {
    if (options.layers && !options.layers.includes(layer)) continue;
    const heldBack = [...(options.heldBack ?? []), ...blocked];
    const gated = await buildLayer(db, models, layer, { ...options, heldBack });
    blocked.push(...gated.blocked);
    results.push(...gated.built);
  }
  if (blocked.length > 0) throw new ModelsBlockedError(blocked);
  return results;
}

/**
 * One layer through its gate: its selected models built into `__next`, their declared checks run there, and, in one
 * transaction, every model that passed swapped in while a model whose blocking check failed, and what is
 * downstream of it in the layer, is held back (its `__next` dropped, its published table untouched). Selected
 * models downstream of `options.heldBack` are not built at all. Returns the published models, the held-back ones
 * with the checks that hold them, and every check (for the caller to record as findings); throws ModelBuildError
 * when a model fails to build (an Error naming the check when a check query itself fails), and then the layer is
 * left exactly as it was. No outcome leaves a `__next` table behind.
 *
 * Why not the whole layer in one transaction (which would roll every failure back by itself): it would hold the
 * stream service's write locks on the event tables for the whole silver build and its checks, stalling the 5-minute
 * stream SLA behind the batch layer; on Redshift, where every read keeps its lock to the end of the transaction and
 * LOCK blocks readers too, a gold transaction gathering read locks on the silver event tables while the applier
 * locks them in its own order could deadlock with it; and on PGlite (one connection) a long transaction stalls
 * everything else the process does (the monitor). So the models nobody else writes are built outside any transaction
 * (a failure drops their `__next` tables), and only what must serialise with the stream service runs inside the
 * publishing transaction: it takes the applier's locks in the applier's order (bronze tables, then silver tables,
 * each sorted: jobs/stream-ingest/service/applier.ts commitRound), so the two queue instead of deadlocking, then
 * builds and checks the incremental models (an update is either in the bronze they read, or applied to the new
 * table after the swap), then swaps in what passed. DDL and CTAS are transactional on PostgreSQL, PGlite and
 * Redshift, so a rollback there also removes the `__next` tables built inside. On PostgreSQL with lanes to spare,
 * the transaction starts beside the outside builds rather than after them (overlapsPublishing), and waits for them
 * and their checks before its own checks and the swaps; a lane out of outside work meanwhile builds an inside model
 * the transaction has not reached (lendableModels), once the transaction holds the stream service's locks. A failure
 * on either side rolls it back and drops every outside `__next` table once no outside build is running.
 *
 * Incremental models (`-- incremental:`, jobs/models/incremental.ts) that need not be built whole are not copied
 * into `__next`: their increment (delete + insert of the changed keys) is applied to the published table inside the
 * publishing transaction, after the stream service's locks, and their checks run there on the whole table before
 * the commit; an error rolls the increment back with everything else. Models of the layer reading them read the
 * published table and are built inside too. A failing blocking check on a model whose increment was applied in place
 * cannot hold back that model alone (the others commit in the same transaction), so the transaction is rolled back
 * and the layer built again with those models whole in `__next`, where they are held back like any other. What each
 * published incremental model's build saw of its inputs is recorded in the same transaction, so the next build starts
 * from what was published, never from a rolled-back or held-back one.
 * A gold increment reads the silver event tables inside the gold transaction without locking them: on PostgreSQL a
 * read never waits for the applier's write lock; on Redshift it may wait for an applier round to commit, but the
 * applier never waits for anything the gold transaction holds (gold and ops tables), so the two cannot deadlock.
 */
export async function buildLayer(
  db: SqlDatabase,
  models: Model[],
  layer: ModelLayer,
  options: BuildOptions,
): Promise<LayerBuild> {
  checkOnly(models, options.only);
  const selected = orderModels(models).filter(
    (model) => model.layer === layer && (!options.only || options.only.includes(model.name)),
  );
  // Held back from upstream: never built; what reads them is downstream too, so nothing built reads their `__next`.
  const heldUpstream = holdBack(selected, options.heldBack ?? []);
  const toBuild = selected.filter((model) => !heldUpstream.has(model.name));
  const blocked: BlockedModel[] = [...heldUpstream].map(([name, blockedBy]) => ({
    name,
    layer,
    blockedBy,
  }));
  if (toBuild.length === 0) return { layer, built: [], blocked, checks: [], blockedBy: [] };
  await createSchemas(db);
  let gated: GatedBuild;
  // The bronze tables each silver model reads: a gold increment tells a superseded silver row from one taken out.
  const bronzeSources = new Map(
    models.map((model) => [model.name, model.dependsOn.filter((dep) => dep.startsWith('bronze.'))]),
  );
  const incrementalNames = new Set(models.filter((model) => model.incremental).map((model) => model.name));
  const catalog: ModelCatalog = {
    bronzeSourcesOf: (table) => bronzeSources.get(table) ?? [],
    isIncremental: (table) => incrementalNames.has(table),
    valueColumnsOf: valueColumnsOf(models, (model) => renderModelSql(model, db.dialect, options.vars)),
    lookupColumnsOf: lookupColumnsOf(models),
  };
  try {
    gated = await buildGated(db, toBuild, options, new Set(), catalog);
  } catch (error) {
    if (!(error instanceof IncrementHeldBack)) throw error;
    gated = await buildGated(db, toBuild, options, error.models, catalog);
  }
  const { built, checks, heldHere } = gated;
  for (const result of built) {
    const blockedBy = heldHere.get(result.name);
    if (blockedBy) blocked.push({ name: result.name, layer, blockedBy, build: result });
    else options.onModelBuilt?.(result);
  }
  return {
    layer,
    built: built.filter((result) => !heldHere.has(result.name)),
    blocked,
    checks,
    blockedBy: blockingFailures(checks),
  };
}

/** What one pass through the gate built and checked, and the models it held back (with their checks). */
interface GatedBuild {
  built: ModelBuildResult[];
  checks: ModelTestResult[];
  heldHere: Map<string, string[]>;
}

/** Thrown inside the publishing transaction to roll it back: these in-place increments must be held back alone. */
class IncrementHeldBack extends Error {
  readonly models: Set<string>;
  constructor(models: Set<string>) {
    super(`increments held back by their checks: ${[...models].join(', ')}`);
    this.models = models;
  }
}

/** What a build needs to know of every model, selected or not. */
interface ModelCatalog {
  /** The bronze tables a silver model reads. */
  bronzeSourcesOf: (table: string) => string[];
  isIncremental: (table: string) => boolean;
  /** The columns whose changed values an increment of the model keeps for the incremental models reading it. */
  valueColumnsOf: (table: string) => ValueColumn[];
  /** The columns increments find the model's rows by (lookupColumnsOf): indexed when it is built whole. */
  lookupColumnsOf: (table: string) => string[];
}

/**
 * Per gold model, the recompute keys of the incremental models reading it as a gold input (not whole_on), the
 * columns they look its changed rows up by (keyed_via), each with the words of those readers' SQL (what they read),
 * and the column a blocking relationships test of theirs points at in it (the rows pointing at a changed value are
 * checked again: model-tests.ts ChangedKeys), with no reader.
 */
function valueColumnsOf(models: Model[], render: (model: Model) => string): (table: string) => ValueColumn[] {
  const values = new Map<string, Map<string, ValueColumn>>();
  const keep = (table: string, column: string, reader: Model | null) => {
    const columns = values.get(table) ?? new Map<string, ValueColumn>();
    const value = columns.get(column) ?? { column, readers: [] };
    if (reader && !value.readers.some((known) => known.name === reader.name))
      value.readers.push({ name: reader.name, named: namedWords(render(reader)) });
    columns.set(column, value);
    values.set(table, columns);
  };
  for (const model of models) {
    const spec = model.incremental;
    if (!spec || model.layer !== 'gold') continue;
    for (const input of model.dependsOn.filter(
      (dep) => dep.startsWith('gold.') && !spec.wholeOn.includes(dep),
    ))
      keep(input, spec.recomputeKey, model);
    for (const via of spec.keyedVia) keep(via.input, via.column, model);
    for (const test of inputRelationships(model)) keep(test.toModel, test.toColumn, null);
  }
  return (table) =>
    [...(values.get(table)?.values() ?? [])].sort((a, b) =>
      a.column < b.column ? -1 : a.column > b.column ? 1 : 0,
    );
}

/**
 * Per model, the columns the increments look its rows up by: its own recompute key (deleted and rewritten by key) and,
 * in silver, `_processed_at` (a reader's new rows are those after its last build); the recompute key of each
 * incremental model restricting it to the changed keys; the column a keyed_via lookup matches; the column of a
 * blocking relationships check whose rows pointing at a changed parent value are checked again; the column of a
 * unique check read by the changed rows' values (checksChangedValuesOnly). Without an index each
 * of those reads the whole table every hour, so an increment would cost as much as the data, not as its changes.
 */
function lookupColumnsOf(models: Model[]): (table: string) => string[] {
  return columnsPerTable(models, (model, spec, keep) => {
    keep(model.name, spec.recomputeKey);
    if (model.layer === 'silver') keep(model.name, '_processed_at');
    if (model.layer !== 'gold') return;
    const readWhole = new Set([...spec.wholeOn, ...spec.keyedVia.map((via) => via.input)]);
    for (const input of model.dependsOn.filter((dep) => !dep.startsWith('bronze.') && !readWhole.has(dep)))
      keep(input, spec.recomputeKey);
    for (const via of spec.keyedVia) keep(via.lookup, via.column);
    for (const test of inputRelationships(model)) keep(model.name, test.column);
    for (const test of model.tests) {
      const column = checksChangedValuesOnly(test, spec.recomputeKey);
      if (column !== null) keep(model.name, column);
    }
  });
}

/** The columns `collect` names per table over the incremental models, each table's sorted. */
function columnsPerTable(
  models: Model[],
  collect: (model: Model, spec: IncrementalSpec, keep: (table: string, column: string) => void) => void,
): (table: string) => string[] {
  const columns = new Map<string, Set<string>>();
  const keep = (table: string, column: string) => {
    const known = columns.get(table) ?? new Set<string>();
    known.add(column);
    columns.set(table, known);
  };
  for (const model of models) if (model.incremental) collect(model, model.incremental, keep);
  return (table) => [...(columns.get(table) ?? [])].sort();
}

/**
 * One pass through the layer's gate (see buildLayer); `wholeModels` are built whole whatever their increments.
 * `selected` models that are not incremental and whose inputs did not change since their last published build
 * (unchanged.ts) keep their published tables: neither built nor checked.
 */
async function buildGated(
  db: SqlDatabase,
  selected: Model[],
  options: BuildOptions,
  wholeModels: Set<string>,
  catalog: ModelCatalog,
): Promise<GatedBuild> {
  const bronzeSourcesOf = catalog.bronzeSourcesOf;
  const dialect = options.dialect ?? db.dialect;
  const render = (model: Model) => renderModelSql(model, dialect, options.vars);
  const fullRefresh = options.fullRefresh ?? false;
  const selectedNames = new Set(selected.map((model) => model.name));
  const { unchanged, states: wholeStates } = await planUnchanged(
    db,
    selected.filter((model) => !model.incremental),
    {
      fullRefresh,
      render,
      builtHere: (table) => selectedNames.has(table),
      isIncremental: catalog.isIncremental,
    },
  );
  const whole = new Map(
    [...wholeModels].map((name) => [
      name,
      'its increment failed a blocking check: built whole to be held back alone',
    ]),
  );
  const increments = await planIncrementalBuilds(db, selected, {
    fullRefresh,
    whole,
    dialect,
    render,
    bronzeSourcesOf,
    isIncremental: catalog.isIncremental,
    upstream: (table) => (selectedNames.has(table) && !unchanged.has(table) ? 'rebuilt' : 'kept'),
  });
  const applied = new Set(
    [...increments.values()].filter((p) => p.mode === 'incremental').map((p) => p.model.name),
  );
  const toBuild = selected.filter((model) => !unchanged.has(model.name));
  const plan = planLayer(toBuild, applied);
  const buildingNames = new Set(toBuild.map((model) => model.name));
  const tableOf: TableResolver = (name) =>
    buildingNames.has(name) && !applied.has(name) ? nextTableOf(name) : name;
  const selects = renderSelects(toBuild, dialect, options.vars, tableOf);
  const clock = { now: options.now ?? (() => new Date()), tableOwner: options.tableOwner };
  const delta = (model: Model) => ({
    plan: increments.get(model.name) as IncrementalPlan,
    dialect,
    tableOf,
    valueColumns: catalog.valueColumnsOf(model.name),
  });
  const built: ModelBuildResult[] = [];
  const checks: ModelTestResult[] = [];
  let heldHere = new Map<string, string[]>();
  const lanes = options.concurrency ?? 1;
  const overlap = overlapsPublishing(db, plan, lanes);
  const outsideLanes = overlap ? lanes - 1 : lanes;
  let abandoned = false;
  const outsideBuilt: ModelBuildResult[] = [];
  const outsideChecks: ModelTestResult[] = [];
  const lendable = new Set(overlap ? lendableModels(plan, applied) : []);
  /** The lendable models taken by the transaction or an idle lane, whichever reached each first: built once. */
  const taken = new Set<Model>();
  /** Whether the caller is first to reach a lendable model (and so builds it). */
  const take = (model: Model): boolean => {
    if (taken.has(model)) return false;
    taken.add(model);
    return true;
  };
  const locked = Promise.withResolvers<void>();
  // Rejected when the layer fails, perhaps with no lane waiting for it.
  locked.promise.catch(() => {});
  // Each model's checks are scheduled like a build, once it and the tables they compare it with are built: they
  // fill a lane a long build would leave idle (builds come first whenever one is ready). Lendable models come last:
  // the transaction builds them unless a lane runs out of its own work first.
  const outsideWork: OutsideWork[] = [
    ...plan.outside.map((model) => ({ model, checks: false, lent: false })),
    ...plan.checkedOutside.map((model) => ({ model, checks: true, lent: false })),
    ...[...lendable].map((model) => ({ model, checks: false, lent: true })),
  ];
  const buildOutside = async () => {
    const done = await inDependencyOrder(
      outsideWork,
      {
        lanes: outsideLanes,
        keyOf: ({ model, checks }) => (checks ? `${model.name} checks` : model.name),
        dependsOn: ({ model, checks }) =>
          checks ? [model.name, ...relationshipParents(model)] : model.dependsOn,
      },
      async ({ model, checks, lent }): Promise<ModelBuildResult | ModelTestResult[] | null> => {
        if (abandoned) throw new Error('the layer failed');
        if (checks) return runModelTests(db, [model], { tableOf });
        if (lent) {
          // Built once the transaction holds the stream service's locks: every writer of its inputs then waits
          // for the commit, so this connection reads what the transaction would.
          await locked.promise;
          if (abandoned) throw new Error('the layer failed');
          if (!take(model)) return null;
        }
        return buildNext(db, model, selects, clock, catalog.lookupColumnsOf(model.name));
      },
    );
    for (const result of done) {
      if (result === null) continue;
      if (Array.isArray(result)) outsideChecks.push(...result);
      else outsideBuilt.push(result);
    }
  };
  let outsideDone: Promise<void> | undefined;
  let outsideFailed = false;
  try {
    outsideDone = buildOutside();
    // Handled here so a failure while the publishing transaction is busy is not an unhandled rejection; the
    // transaction still sees it when it awaits outsideDone, and rolls back.
    outsideDone.catch(() => {
      outsideFailed = true;
    });
    if (!overlap) await outsideDone;
    await db.transaction(async (tx) => {
      await lockStreamTables(tx, plan.inside);
      locked.resolve();
      // The keys each in-place increment recomputed: its checks read only those keys' rows where that is sound.
      const changedKeys = new Map<string, ChangedKeysOf>();
      const insideBuilt: ModelBuildResult[] = [];
      for (const model of plan.inside) {
        if (outsideFailed) await outsideDone;
        if (lendable.has(model) && !take(model)) continue;
        insideBuilt.push(
          applied.has(model.name)
            ? await applyDelta(tx, model, delta(model), options.vars, clock, changedKeys)
            : await buildNext(tx, model, selects, clock, catalog.lookupColumnsOf(model.name)),
        );
      }
      // The inside checks may read outside `__next` tables (a relationship), and the swaps publish them.
      await outsideDone;
      built.push(...outsideBuilt, ...insideBuilt);
      checks.push(...outsideChecks);
      checks.push(...(await runModelTests(tx, plan.checkedInside, { tableOf, changedKeys })));
      for (const name of changedKeys.keys()) await dropCheckedKeys(tx, name, catalog.valueColumnsOf(name));
      heldHere = holdBack(toBuild, failingModels(checks));
      const heldIncrements = new Set([...heldHere.keys()].filter((name) => applied.has(name)));
      if (heldIncrements.size > 0) throw new IncrementHeldBack(heldIncrements);
      for (const model of toBuild) {
        if (heldHere.has(model.name)) await tx.exec(`drop table if exists ${nextTableOf(model.name)}`);
        else if (!applied.has(model.name)) await swapIn(tx, model);
      }
      for (const increment of increments.values())
        if (!heldHere.has(increment.model.name)) await recordBuild(tx, increment);
      for (const [name, state] of wholeStates)
        if (!heldHere.has(name) && !unchanged.has(name)) await recordWholeBuild(tx, state);
    });
  } catch (error) {
    // Outside builds still running finish (none starts any more) before their tables are dropped: none is left.
    abandoned = true;
    locked.reject(error);
    await outsideDone?.catch(() => {});
    await dropQuietly(db, [...plan.outside, ...lendable]);
    throw error;
  }
  for (const result of built) {
    const increment = increments.get(result.name);
    if (!increment) continue;
    // The inputs' state is read for every model up front, before any build: reported apart from the build's span.
    result.incremental = {
      ...(result.incremental ?? { mode: 'full', reason: increment.reason }),
      planMs: increment.planMs,
    };
  }
  for (const model of selected.filter((candidate) => unchanged.has(candidate.name))) {
    const at = clock.now();
    const rows = await countRows(db, model.name);
    built.push({
      name: model.name,
      layer: model.layer,
      file: model.file,
      rows,
      ms: 0,
      startedAt: at,
      finishedAt: at,
      unchanged: true,
    });
  }
  return { built, checks, heldHere };
}

/**
 * The models of `models` held back by `roots` (each held table and the checks holding it): the roots among them
 * and everything downstream (what reads them or checks against them), each with the union of its roots' checks.
 */
function holdBack(models: Model[], roots: HeldBackTable[]): Map<string, string[]> {
  const reasons = new Map<string, Set<string>>();
  const names = new Set(models.map((model) => model.name));
  for (const root of roots) {
    const reached = downstreamOf(models, [root.name], upstreamOf);
    if (names.has(root.name)) reached.add(root.name);
    for (const name of reached) {
      const known = reasons.get(name) ?? new Set<string>();
      for (const id of root.blockedBy) known.add(id);
      reasons.set(name, known);
    }
  }
  return new Map(
    models
      .filter((model) => reasons.has(model.name))
      .map((model) => [model.name, [...(reasons.get(model.name) ?? [])].sort()]),
  );
}

/** Each model with a failing blocking check, with the ids of those checks. */
function failingModels(checks: ModelTestResult[]): HeldBackTable[] {
  const byModel = new Map<string, string[]>();
  for (const check of checks.filter((candidate) => !candidate.passed && candidate.severity === 'blocking'))
    byModel.set(check.model, [...(byModel.get(check.model) ?? []), check.id]);
  return [...byModel].map(([name, blockedBy]) => ({ name, blockedBy }));
}

function checkOnly(models: Model[], only: string[] | undefined): void {
  const unknown = (only ?? []).filter((name) => !models.some((model) => model.name === name));
  if (unknown.length > 0) throw new Error(`buildModels: unknown model(s): ${unknown.join(', ')}`);
}

interface LayerPlan {
  /** Built before the publishing transaction, in dependency order. */
  outside: Model[];
  /**
   * Built inside it under the stream service's locks: the models the stream service updates, the incremental
   * models applied in place, and whatever reads them.
   */
  inside: Model[];
  /** Models whose checks can run before the transaction, and those that need an `inside` table. */
  checkedOutside: Model[];
  checkedInside: Model[];
}

function planLayer(selected: Model[], applied: Set<string>): LayerPlan {
  const insideNames = new Set<string>();
  for (const model of selected) {
    const incremental = model.incrementalKey || applied.has(model.name);
    if (incremental || model.dependsOn.some((dep) => insideNames.has(dep))) insideNames.add(model.name);
  }
  const checksInside = (model: Model) =>
    insideNames.has(model.name) ||
    model.tests.some((test) => test.kind === 'relationships' && insideNames.has(test.toModel));
  return {
    outside: selected.filter((model) => !insideNames.has(model.name)),
    inside: selected.filter((model) => insideNames.has(model.name)),
    checkedOutside: selected.filter((model) => !checksInside(model)),
    checkedInside: selected.filter(checksInside),
  };
}

/** A model built outside the publishing transaction, or its checks; `lent`: an inside model (lendableModels). */
interface OutsideWork {
  model: Model;
  checks: boolean;
  lent: boolean;
}

/**
 * The inside models an idle outside lane may build instead of the publishing transaction: built whole, neither
 * reading nor read by another inside model (the transaction could not read a table another connection has yet to
 * commit, nor that connection one the transaction has). At full refresh the silver event tables: at scale 100 the
 * transaction built them in turn for 24.6 s while the other lane idled for the last 12.5 s of it.
 */
function lendableModels(plan: LayerPlan, applied: Set<string>): Model[] {
  const insideNames = new Set(plan.inside.map((model) => model.name));
  const readInside = new Set(
    plan.inside.flatMap((model) => model.dependsOn.filter((dep) => insideNames.has(dep))),
  );
  return plan.inside.filter(
    (model) =>
      !applied.has(model.name) &&
      !readInside.has(model.name) &&
      !model.dependsOn.some((dep) => insideNames.has(dep)),
  );
}

/**
 * Whether the publishing transaction starts with the outside builds instead of after them: it then builds the inside
 * models (at full refresh, the silver event tables: at scale 200, 77 s of one connection while the other had
 * finished silver's other models at 23 s) while one lane fewer builds the rest. Its locks are then held for the
 * longer of the two parts instead of the inside part alone. Only with a connection to spare beside the transaction's
 * (PGlite's one connection would be held by the transaction until the outside builds it waits for are done), and
 * where a lock lets readers through (Redshift's LOCK blocks them: an outside model reading a locked table would wait
 * for the transaction waiting for it). Not when an inside model reads an outside one (it would wait for that build).
 */
function overlapsPublishing(db: SqlDatabase, plan: LayerPlan, lanes: number): boolean {
  const outsideNames = new Set(plan.outside.map((model) => model.name));
  return (
    lanes > 1 &&
    plan.inside.length > 0 &&
    plan.outside.length > 0 &&
    db.concurrency.connections > 1 &&
    !db.concurrency.locksBlockReaders &&
    !plan.inside.some((model) => model.dependsOn.some((dep) => outsideNames.has(dep)))
  );
}

/** Every model's SELECT, reading its own layer's `__next` tables; rendered up front so a macro error builds nothing. */
function renderSelects(
  selected: Model[],
  dialect: SqlDialect,
  vars: MacroVars,
  tableOf: TableResolver,
): Map<string, string> {
  const selects = new Map<string, string>();
  for (const model of selected) {
    // Renamed before the macros are expanded: the rewrite reads the model as written.
    const readingNext = { ...model, sql: renameTableReferences(model.sql, tableOf) };
    try {
      selects.set(model.name, renderModelSql(readingNext, dialect, vars));
    } catch (error) {
      throw new ModelBuildError(model, (error as Error).message);
    }
  }
  return selects;
}

/** Builds one model's `__next` table; its timing covers the CTAS and the row count, not its checks or its swap. */
async function buildNext(
  db: SqlDatabase,
  model: Model,
  selects: Map<string, string>,
  clock: { now: () => Date; tableOwner?: string | undefined },
  lookupColumns: string[],
): Promise<ModelBuildResult> {
  const startedAt = clock.now();
  const started = performance.now();
  const next = nextTableOf(model.name);
  try {
    await db.exec(`drop table if exists ${next}`);
    const created = await db.exec(
      `create table ${next}${unvacuumed(db.dialect)} as\n${selects.get(model.name)}`,
    );
    // Redshift has no indexes (its zone maps and the increments' small key lists do without), and analyzes a
    // table created by CTAS on its own. PostgreSQL's autovacuum gets to a new table only later: until then an
    // increment's plans guess how many rows its keys match, and one right after a whole build took 1.5-2x as long
    // (scale 30). Its size and those columns only: sampling every column cost twice as much.
    if (db.dialect !== 'redshift' && lookupColumns.length > 0) {
      for (const column of lookupColumns) await db.exec(`create index on ${next} (${column})`);
      await db.exec(`analyze ${next} (${lookupColumns.join(', ')})`);
    }
    if (clock.tableOwner) await db.exec(`alter table ${next} owner to ${clock.tableOwner}`);
    // The CTAS's command tag counts its rows (PostgreSQL, PGlite); an engine whose tag does not is asked.
    const rows = created ?? (await countRows(db, next));
    const ms = performance.now() - started;
    return {
      name: model.name,
      layer: model.layer,
      file: model.file,
      rows,
      ms,
      startedAt,
      finishedAt: clock.now(),
    };
  } catch (error) {
    // Only the message: driver errors may carry the statement, and the statement may carry the hash key.
    throw new ModelBuildError(model, databaseMessage(error), { cause: error });
  }
}

/**
 * Applies an incremental model's increment to its published table (inside the publishing transaction); a failure
 * names the model like a full build's, its database error the cause, so a data error is still traced to its batch.
 */
async function applyDelta(
  tx: SqlDatabase,
  model: Model,
  delta: { plan: IncrementalPlan; dialect: SqlDialect; tableOf: TableResolver; valueColumns: ValueColumn[] },
  vars: MacroVars,
  clock: { now: () => Date },
  changedKeys: Map<string, ChangedKeysOf>,
): Promise<ModelBuildResult> {
  const startedAt = clock.now();
  const started = performance.now();
  const render = (renames: Map<string, string>) => {
    // Renamed before the macros are expanded, as renderSelects does.
    const reading = renameTableReferences(model.sql, (table) => renames.get(table) ?? delta.tableOf(table));
    return renderModelSql({ ...model, sql: reading }, delta.dialect, vars);
  };
  try {
    const applied = await applyIncrement(tx, delta.plan, render, delta.valueColumns);
    changedKeys.set(model.name, {
      column: delta.plan.model.incremental?.recomputeKey as string,
      keysTable: applied.keysTable,
      values: new Map(
        delta.valueColumns.map(({ column }) => [column, changedValuesTable(model.name, column)]),
      ),
    });
    const rows = await countRows(tx, model.name);
    const incremental = { mode: 'incremental' as const, reason: delta.plan.reason, keys: applied.keys };
    return {
      name: model.name,
      layer: model.layer,
      file: model.file,
      rows,
      ms: performance.now() - started,
      startedAt,
      finishedAt: clock.now(),
      incremental,
    };
  } catch (error) {
    throw new ModelBuildError(model, databaseMessage(error), { cause: error });
  }
}

/**
 * The write locks the stream service's applier takes for the incremental models, in its order: their bronze tables,
 * then their own tables, each sorted. A table that does not exist yet has no writer to wait for.
 */
async function lockStreamTables(tx: SqlDatabase, inside: Model[]): Promise<void> {
  const incremental = inside.filter((model) => model.incrementalKey);
  // Code-unit order, as the applier's Array.sort: a collation could order `_` differently.
  const byName = (a: { table: string }, b: { table: string }) =>
    a.table < b.table ? -1 : a.table > b.table ? 1 : 0;
  const bronze = incremental
    .flatMap((model) => model.dependsOn.map((table) => ({ table, model })))
    .sort(byName);
  const own = incremental.map((model) => ({ table: model.name, model })).sort(byName);
  for (const { table, model } of [...bronze, ...own]) {
    try {
      if (await tableExists(tx, table)) await tx.exec(lockForWriteSql(table, tx.dialect));
    } catch (error) {
      throw new ModelBuildError(model, `locking ${table}: ${databaseMessage(error)}`);
    }
  }
}

/**
 * PostgreSQL's autovacuum vacuums a freshly built table (PostgreSQL 13 on, inserts alone trigger it), and the swap's
 * rename then waits for it to be cancelled, which happens after deadlock_timeout (1 s by default): at scale 200 nine
 * gold swaps waited 1.0 s each, in turn, in the publishing transaction. A `__next` table is left alone until it is
 * swapped in, and the published table gets autovacuum back there (swapIn). Redshift has no storage parameters (and
 * vacuums on its own schedule, without blocking a rename).
 */
function unvacuumed(dialect: SqlDialect): string {
  return dialect === 'redshift' ? '' : ' with (autovacuum_enabled = false, toast.autovacuum_enabled = false)';
}

async function swapIn(tx: SqlDatabase, model: Model): Promise<void> {
  const table = model.name.split('.')[1] as string;
  try {
    await tx.exec(`drop table if exists ${model.name}`);
    await tx.exec(`alter table ${nextTableOf(model.name)} rename to ${table}`);
    if (tx.dialect !== 'redshift')
      await tx.exec(`alter table ${model.name} reset (autovacuum_enabled, toast.autovacuum_enabled)`);
  } catch (error) {
    throw new ModelBuildError(model, `swapping in: ${databaseMessage(error)}`);
  }
}

/** Best effort: a `__next` table a failed cleanup leaves is dropped by the next build before it is recreated. */
async function dropQuietly(db: SqlDatabase, models: Model[]): Promise<void> {
  for (const model of models)
    await db.exec(`drop table if exists ${nextTableOf(model.name)}`).catch(() => {});
}

function blockingFailures(checks: ModelTestResult[]): string[] {
  return checks.filter((check) => !check.passed && check.severity === 'blocking').map((check) => check.id);
}

export interface IncrementalOptions {
  vars: MacroVars;
  /** The bronze batches just loaded (or reloaded). */
  batchIds: string[];
  /** The role a first, whole build hands its new table to (BuildOptions.tableOwner). */
  tableOwner?: string | undefined;
  /**
   * Called inside the transaction just before the touched keys' rows are replaced, with both versions of them:
   * what derives from the model's change (the real-time KPIs) adds `after` and takes away `before`, so a key whose
   * first delivery changed to an earlier batch is not counted twice.
   */
  onReplace?: ((change: IncrementalChange) => Promise<void>) | undefined;
}

/** Relations (a table or a parenthesised select) holding the touched keys' rows before and after a change. */
export interface IncrementalChange {
  before: string;
  after: string;
}

export interface IncrementalResult {
  name: string;
  /** Rows written for the affected keys (the table's row count for a first, full build). */
  rows: number;
  /** Keys recomputed. */
  keys: number;
  /** True when the table did not exist yet and was built whole. */
  full: boolean;
  ms: number;
}

const TEMP = { keys: 'ecomm_inc_keys', bronze: 'ecomm_inc_bronze', rows: 'ecomm_inc_rows' } as const;

/**
 * Brings an `-- incremental: <key>` model up to date after the given bronze batches were loaded, with the model's
 * own SQL, inside the caller's transaction: the keys those batches touch (their bronze rows, and the rows they
 * supplied to the table before a reload) are recomputed from every bronze row holding them, deleted and inserted
 * again. A model's row depends only on the bronze rows of its key, so the table ends exactly as a full build would
 * leave it, whatever order batches arrive or replay in (first delivery wins the same way). Holds the table's write
 * lock, so concurrent appliers and a full build take turns. A table that does not exist yet is built whole.
 */
export async function applyIncrementally(
  tx: SqlDatabase,
  model: Model,
  options: IncrementalOptions,
): Promise<IncrementalResult> {
  const started = performance.now();
  const key = model.incrementalKey;
  const bronze = model.dependsOn[0];
  if (!key || !bronze) throw new Error(`${model.name} (${model.file}) is not an incremental model`);
  const bad = options.batchIds.filter((id) => !BATCH_ID.test(id));
  if (bad.length > 0) throw new Error(`applyIncrementally: unexpected batch id(s) ${bad.join(', ')}`);
  let select: string;
  try {
    select = renderModelSql(model, tx.dialect, options.vars);
  } catch (error) {
    throw new ModelBuildError(model, (error as Error).message);
  }
  try {
    await createSchemas(tx);
    if (!(await tableExists(tx, model.name))) {
      await tx.exec(`create table ${model.name} as\n${select}`);
      if (options.tableOwner) await tx.exec(`alter table ${model.name} owner to ${options.tableOwner}`);
      await options.onReplace?.({ before: `(select * from ${model.name} where 1 = 0)`, after: model.name });
      const rows = await countRows(tx, model.name);
      return { name: model.name, rows, keys: rows, full: true, ms: performance.now() - started };
    }
    if (options.batchIds.length === 0)
      return { name: model.name, rows: 0, keys: 0, full: false, ms: performance.now() - started };
    await tx.exec(lockForWriteSql(model.name, tx.dialect));
    const ids = options.batchIds.map((id) => `'${id}'`).join(', ');
    const reading = new RegExp(`\\b${bronze.replace('.', '\\s*\\.\\s*')}\\b`, 'gi');
    await dropTemporary(tx);
    await tx.exec(
      `create temp table ${TEMP.keys} as
       select trim(${key}) as k from ${bronze} where _batch_id in (${ids})
       union
       select ${key} as k from ${model.name} where _batch_id in (${ids})`,
    );
    await tx.exec(
      `create temp table ${TEMP.bronze} as
       select * from ${bronze} where trim(${key}) in (select k from ${TEMP.keys})`,
    );
    await tx.exec(`create temp table ${TEMP.rows} as\n${select.replace(reading, TEMP.bronze)}`);
    await options.onReplace?.({
      before: `(select * from ${model.name} where ${key} in (select k from ${TEMP.keys}))`,
      after: TEMP.rows,
    });
    await tx.exec(`delete from ${model.name} where ${key} in (select k from ${TEMP.keys})`);
    await tx.exec(`insert into ${model.name} select * from ${TEMP.rows}`);
    const rows = await countRows(tx, TEMP.rows);
    const keys = await countRows(tx, TEMP.keys);
    await dropTemporary(tx);
    return { name: model.name, rows, keys, full: false, ms: performance.now() - started };
  } catch (error) {
    throw new ModelBuildError(model, databaseMessage(error), { cause: error });
  }
}

async function dropTemporary(tx: SqlDatabase): Promise<void> {
  for (const table of Object.values(TEMP)) await tx.exec(`drop table if exists ${table}`);
}

function databaseMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? `${error.message} (SQLSTATE ${code})` : error.message;
}
