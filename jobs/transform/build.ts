/**
 * Builds the silver and gold models inside the warehouse, in dependency order. Each model is written to
 * `<layer>.<name>__next` first and swapped into place in one short transaction, so readers never see a half-built
 * table and a failed build leaves the previous table untouched. Rebuilding from the same bronze gives the same
 * rows (models are deterministic), which keeps reruns idempotent (invariant 2).
 */
import type { SqlDatabase, SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros, type MacroVars } from '../../sql/dialects/macros.ts';
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

/** A model failed: names the model and its file and carries the database's message (never the SQL). */
export class ModelBuildError extends Error {
  readonly model: string;
  readonly file: string;
  constructor(model: Model, reason: string) {
    super(`model ${model.name} (${model.file}) failed to build: ${reason}`);
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
    await db.exec(`drop table if exists ${next}`);
    await db.exec(`create table ${next} as\n${select}`);
    const [counted] = await db.query<{ row_count: unknown }>(`select count(*) as row_count from ${next}`);
    await db.transaction(async (tx) => {
      await tx.exec(`drop table if exists ${model.name}`);
      await tx.exec(`alter table ${next} rename to ${table}`);
    });
    return {
      name: model.name,
      layer: model.layer,
      file: model.file,
      rows: Number(counted?.row_count ?? 0),
      ms: performance.now() - started,
    };
  } catch (error) {
    // Only the message: driver errors may carry the statement, and the statement may carry the hash key.
    throw new ModelBuildError(model, databaseMessage(error));
  }
}

function databaseMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? `${error.message} (SQLSTATE ${code})` : error.message;
}
