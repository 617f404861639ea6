/**
 * Skipping a model whose inputs did not change: a model rebuilt whole every build (not incremental) whose SQL (and
 * tests) and every input are as they were at its last published build would be rebuilt to the same rows, so the
 * build keeps its published table instead, and runs none of its checks (they passed on those rows, under the same
 * tests: the tests are in the hash). What the build compares, per input:
 *
 * - a bronze table: its rows per batch (count and newest `_ingested_at`), hashed: a batch loaded, reloaded or taken
 *   out changes it (a batch commits in one transaction and leaves bronze whole);
 * - a model rebuilt whole: when it was last published (its own `ops.model_builds` rows' `built_at`, written in the
 *   transaction that publishes it). A model rebuilt in this same build has changed; a downstream model held back
 *   while its input was published recorded the older publication, so it is built next time;
 * - an incremental model: always changed (the stream service writes the event tables between builds, and every
 *   build applies some increment).
 *
 * What a published build saw is kept in ops.model_builds (one row per input, `settled_fingerprint` holding the
 * input's state, `mode` `whole`), written in the publishing transaction; `--full-refresh`, a first build and a
 * model without recorded state build whole.
 */
import { createHash } from 'node:crypto';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { bronzeRowsPerBatch } from '../ops/bronze-batches.ts';
import { tableExists } from './existing.ts';
import { ensureBuildState } from './incremental.ts';
import type { Model } from './models.ts';

/** What a non-incremental model's build read of its inputs: recorded when it is published. */
export interface InputStates {
  model: Model;
  sqlHash: string;
  /** Per input table, its state (InputState) as this build reads it; null: built in this same build. */
  inputs: Map<string, string | null>;
}

/** The hash recorded with a whole build: a different one (SQL, PII key in it, tests) builds it again. */
export function wholeSqlHash(model: Model, renderedSql: string): string {
  const tests = model.tests.map((test) => `${test.severity} ${test.declaration}`).join('\n');
  return createHash('sha256').update(`whole\n${tests}\n${renderedSql}`).digest('hex');
}

/**
 * Decides, in dependency order, which of the non-incremental `models` need no build: the models returned are kept
 * as published. `building` says whether a model is (re)built or applied in this build (true for those decided
 * to build here). Also returns every candidate's input states, to record when it is published.
 */
export async function planUnchanged(
  db: SqlDatabase,
  models: Model[],
  options: {
    fullRefresh: boolean;
    render: (model: Model) => string;
    /** True when the input is a model built or applied in this build. */
    builtHere: (table: string) => boolean;
    isIncremental: (table: string) => boolean;
  },
): Promise<{ unchanged: Set<string>; states: Map<string, InputStates> }> {
  const unchanged = new Set<string>();
  const states = new Map<string, InputStates>();
  const candidates = models.filter((model) => !model.incremental);
  if (candidates.length === 0) return { unchanged, states };
  await ensureBuildState(db);
  const bronzeStates = new Map<string, Promise<string>>();
  for (const model of candidates) {
    const inputs = new Map<string, string | null>();
    // What it reads, and what its relationships tests check it against: a changed parent must be checked again.
    const checkedAgainst = model.tests.flatMap((test) =>
      test.kind === 'relationships' ? [test.toModel] : [],
    );
    for (const input of new Set([...model.dependsOn, ...checkedAgainst])) {
      if (input.startsWith('bronze.')) {
        if (!bronzeStates.has(input)) bronzeStates.set(input, bronzeState(db, input));
        inputs.set(input, await (bronzeStates.get(input) as Promise<string>));
      } else if (options.isIncremental(input) || (options.builtHere(input) && !unchanged.has(input))) {
        inputs.set(input, null);
      } else inputs.set(input, await publishedAt(db, input));
    }
    const sqlHash = wholeSqlHash(model, options.render(model));
    states.set(model.name, { model, sqlHash, inputs });
    if (options.fullRefresh) continue;
    const recorded = await db.query<{ input_table: string; sql_hash: string; settled_fingerprint: string }>(
      `select input_table, sql_hash, settled_fingerprint from ops.model_builds where model = $1 and mode = 'whole'`,
      [model.name],
    );
    const same =
      recorded.length === inputs.size &&
      recorded.every(
        (row) =>
          row.sql_hash === sqlHash &&
          inputs.get(row.input_table) !== null &&
          inputs.get(row.input_table) === row.settled_fingerprint,
      );
    if (same && (await tableExists(db, model.name))) unchanged.add(model.name);
  }
  return { unchanged, states };
}

/** Records what a published whole build read; in the publishing transaction. */
export async function recordWholeBuild(tx: SqlDatabase, state: InputStates): Promise<void> {
  await tx.query('delete from ops.model_builds where model = $1', [state.model.name]);
  const inputs = [...state.inputs];
  if (inputs.length === 0) return;
  // An input built in this same transaction was published at its current_timestamp (publishedAt reads that).
  // One statement per model, not one per input.
  const values = inputs.map(
    (_, index) =>
      `($1, $${2 * index + 3}, $2, current_timestamp, current_timestamp,
         coalesce($${2 * index + 4}, cast(current_timestamp as varchar(40))), 'whole', current_timestamp)`,
  );
  await tx.query(
    `insert into ops.model_builds (model, input_table, sql_hash, high_water_at, cutoff_at, settled_fingerprint,
       mode, built_at)
     values ${values.join(', ')}`,
    [state.model.name, state.sqlHash, ...inputs.flat()],
  );
}

/** A bronze table's rows per batch (count, newest arrival), hashed. */
async function bronzeState(db: SqlDatabase, table: string): Promise<string> {
  const batches = await bronzeRowsPerBatch(db, table);
  const lines = [...batches].map(([batchId, batch]) => `${batchId}:${batch.rows}:${batch.newest}`).sort();
  return `bronze:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
}

/** When a model was last published whole (its recorded build), as text; 'unknown' when never recorded. */
async function publishedAt(db: SqlDatabase, model: string): Promise<string> {
  const [row] = await db.query<{ built_at: string | null }>(
    `select cast(max(built_at) as varchar(40)) as built_at from ops.model_builds where model = $1 and mode = 'whole'`,
    [model],
  );
  return row?.built_at ?? `unknown ${Date.now()} ${Math.random()}`;
}
