/**
 * Builds the silver and gold models inside the warehouse, in dependency order. Each model is written to
 * `<layer>.<name>__next` first and swapped into place in one short transaction, so readers never see a half-built
 * table and a failed build leaves the previous table untouched. Rebuilding from the same bronze gives the same
 * rows (models are deterministic), which keeps reruns idempotent (invariant 2).
 */
import type { SqlDatabase, SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros, lockForWriteSql, type MacroVars } from '../../sql/dialects/macros.ts';
import {
  loadBronzeTables,
  type Model,
  type ModelLayer,
  orderModels,
  SQL_ROOT,
  type WarehouseLayer,
} from './models.ts';

export interface BuildOptions {
  /** Values for the macros; piiHashKey is required by the gold models. Never logged. */
  vars: MacroVars;
  /** Overrides the database's dialect (for tests of the Redshift rendering). */
  dialect?: SqlDialect;
  /** Build only the models of these layers (e.g. `['silver']` to gate silver before gold); default: all. */
  layers?: ModelLayer[];
  /** Build only these models (`silver.orders`), still in dependency order; default: all. */
  only?: string[];
  /** Called after each model is swapped into place. */
  onModelBuilt?: (result: ModelBuildResult) => void;
}

export interface ModelBuildResult {
  /** `<layer>.<name>` */
  name: string;
  layer: ModelLayer;
  file: string;
  rows: number;
  ms: number;
}

/**
 * A model failed: names the model and its file and carries the database's message (never the SQL); the database's
 * error is its cause, so its SQLSTATE tells bad data from an outage.
 */
export class ModelBuildError extends Error {
  readonly model: string;
  readonly file: string;
  constructor(model: Model, reason: string, options?: ErrorOptions) {
    super(`model ${model.name} (${model.file}) failed to build: ${reason}`, options);
    this.name = 'ModelBuildError';
    this.model = model.name;
    this.file = model.file;
  }
}

const LAYERS: WarehouseLayer[] = ['bronze', 'silver', 'gold'];

export async function createSchemas(db: SqlDatabase): Promise<void> {
  await db.exec(LAYERS.map((layer) => `create schema if not exists ${layer}`).join(';\n'));
}

/** Creates the bronze schema and tables from sql/bronze if missing (the DDL is `create table if not exists`). */
export async function createBronzeTables(db: SqlDatabase, sqlRoot: string = SQL_ROOT): Promise<void> {
  await createSchemas(db);
  for (const table of loadBronzeTables(sqlRoot)) await db.exec(table.sql);
}

/** The SELECT a model runs on a dialect, macros expanded. Contains the PII hash key: do not log it. */
export function renderModelSql(model: Model, dialect: SqlDialect, vars: MacroVars): string {
  return expandMacros(model.sql, dialect, vars);
}

export async function buildModels(
  db: SqlDatabase,
  models: Model[],
  options: BuildOptions,
): Promise<ModelBuildResult[]> {
  const dialect = options.dialect ?? db.dialect;
  const selected = options.only ? new Set(options.only) : undefined;
  if (selected) {
    const unknown = [...selected].filter((name) => !models.some((model) => model.name === name));
    if (unknown.length > 0) throw new Error(`buildModels: unknown model(s): ${unknown.join(', ')}`);
  }
  await createSchemas(db);
  const results: ModelBuildResult[] = [];
  for (const model of orderModels(models)) {
    if (selected && !selected.has(model.name)) continue;
    if (options.layers && !options.layers.includes(model.layer)) continue;
    const result = await buildModel(db, model, dialect, options.vars);
    results.push(result);
    options.onModelBuilt?.(result);
  }
  return results;
}

async function buildModel(
  db: SqlDatabase,
  model: Model,
  dialect: SqlDialect,
  vars: MacroVars,
): Promise<ModelBuildResult> {
  const started = performance.now();
  const [schema, table] = model.name.split('.') as [string, string];
  const next = `${schema}.${table}__next`;
  let select: string;
  try {
    select = renderModelSql(model, dialect, vars);
  } catch (error) {
    throw new ModelBuildError(model, (error as Error).message);
  }
  try {
    let rows: number;
    if (model.incrementalKey) {
      // The stream service updates this table between full builds: build and swap while holding its write lock,
      // so an update is either in the bronze this build reads, or applied to the new table after the swap.
      rows = await db.transaction(async (tx) => {
        if (await tableExists(tx, model.name)) await tx.exec(lockForWriteSql(model.name, tx.dialect));
        return buildAndSwap(tx, model, next, table, select);
      });
    } else {
      await db.exec(`drop table if exists ${next}`);
      await db.exec(`create table ${next} as\n${select}`);
      rows = await countRows(db, next);
      await db.transaction(async (tx) => {
        await tx.exec(`drop table if exists ${model.name}`);
        await tx.exec(`alter table ${next} rename to ${table}`);
      });
    }
    return { name: model.name, layer: model.layer, file: model.file, rows, ms: performance.now() - started };
  } catch (error) {
    // Only the message: driver errors may carry the statement, and the statement may carry the hash key.
    throw new ModelBuildError(model, databaseMessage(error), { cause: error });
  }
}

async function buildAndSwap(
  tx: SqlDatabase,
  model: Model,
  next: string,
  table: string,
  select: string,
): Promise<number> {
  await tx.exec(`drop table if exists ${next}`);
  await tx.exec(`create table ${next} as\n${select}`);
  const rows = await countRows(tx, next);
  await tx.exec(`drop table if exists ${model.name}`);
  await tx.exec(`alter table ${next} rename to ${table}`);
  return rows;
}

async function countRows(db: SqlDatabase, table: string): Promise<number> {
  const [counted] = await db.query<{ row_count: unknown }>(`select count(*) as row_count from ${table}`);
  return Number(counted?.row_count ?? 0);
}

export async function tableExists(db: SqlDatabase, name: string): Promise<boolean> {
  const [schema, table] = name.split('.') as [string, string];
  const [row] = await db.query<{ n: unknown }>(
    'select count(*) as n from information_schema.tables where table_schema = $1 and table_name = $2',
    [schema, table],
  );
  return Number(row?.n ?? 0) > 0;
}

export interface IncrementalOptions {
  vars: MacroVars;
  /** The bronze batches just loaded (or reloaded). */
  batchIds: string[];
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

const BATCH_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
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
