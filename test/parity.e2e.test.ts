import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { type CloudProfiles, createCloudProfiles } from './cloud-profiles.ts';
import { goldHashes, openEmbeddedPlatform, TEST_AS_OF } from './harness.ts';

const SEED = 11;
const SCALE = 0.2;
const PII_HASH_KEY = 'parity-test-key';

/** What must be identical whichever cloud the pipeline ran on (invariant 5). */
interface Outcome {
  gold: Record<string, string>;
  goldRows: Record<string, number>;
  quarantined: { source: string; n: number }[];
  findings: { check_id: string; severity: string; status: string; failing_rows: number }[];
  bronze: { source: string; n: number }[];
}

async function outcomeOf(warehouse: SqlDatabase, runId: string): Promise<Outcome> {
  const gold = await goldHashes(warehouse);
  const goldRows: Record<string, number> = {};
  for (const table of Object.keys(gold)) {
    const [row] = await warehouse.query<{ n: number }>(
      `select cast(count(*) as integer) as n from gold.${table}`,
    );
    goldRows[table] = row?.n ?? 0;
  }
  return {
    gold,
    goldRows,
    quarantined: await warehouse.query(
      'select source, cast(count(*) as integer) as n from ops.quarantine_rows group by source order by source',
    ),
    findings: await warehouse.query(
      `select check_id, severity, status, cast(failing_rows as integer) as failing_rows from ops.dq_findings
       where run_id = $1 order by check_id`,
      [runId],
    ),
    bronze: await warehouse.query(
      `select source, cast(sum(rows_loaded) as integer) as n from ops.batches group by source order by source`,
    ),
  };
}

async function runProfile(context: JobContext): Promise<Outcome> {
  const source = await context.source();
  await createSourceSchema(source);
  await generate({ db: source, stream: context.stream(), seed: SEED, scale: SCALE, asOf: TEST_AS_OF });
  const result = await runPipeline(context);
  expect(result.blockedBy).toEqual([]);
  return outcomeOf(await context.warehouse(), context.runId);
}

describe('cross-provider parity: the same seeded input gives the same results on every adapter set', () => {
  let profiles: CloudProfiles;
  const outcomes: Record<string, Outcome> = {};

  beforeAll(async () => {
    process.env.PII_HASH_KEY = PII_HASH_KEY;
    profiles = await createCloudProfiles('parity');
    const embedded = await openEmbeddedPlatform();
    try {
      outcomes.embedded = await runProfile(embedded.context());
    } finally {
      await embedded.close();
    }
    for (const profile of [profiles.aws, profiles.azure]) {
      const context = createJobContext(loadConfig({ ...profile.settings, LOG_LEVEL: 'silent' }));
      try {
        outcomes[profile.name] = await runProfile(context);
      } finally {
        await context.close();
      }
    }
  }, 600_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await profiles?.dispose();
  });

  it('builds every gold table, and none is empty', () => {
    const rows = outcomes.embedded?.goldRows ?? {};
    expect(Object.keys(rows).length).toBeGreaterThanOrEqual(14);
    for (const [table, count] of Object.entries(rows)) expect(count, table).toBeGreaterThan(0);
  });

  it('gives identical gold tables (ordered row hashes) on embedded, AWS-like and Azure-like adapters', () => {
    expect(outcomes.aws?.gold).toEqual(outcomes.embedded?.gold);
    expect(outcomes.azure?.gold).toEqual(outcomes.embedded?.gold);
  });

  it('quarantines the same rows and loads the same bronze counts everywhere', () => {
    expect(outcomes.embedded?.quarantined.length).toBeGreaterThan(0);
    for (const name of ['aws', 'azure']) {
      expect(outcomes[name]?.quarantined, name).toEqual(outcomes.embedded?.quarantined);
      expect(outcomes[name]?.bronze, name).toEqual(outcomes.embedded?.bronze);
    }
  });

  it('records the same data-quality findings everywhere', () => {
    expect(outcomes.embedded?.findings.length).toBeGreaterThan(50);
    expect(outcomes.aws?.findings).toEqual(outcomes.embedded?.findings);
    expect(outcomes.azure?.findings).toEqual(outcomes.embedded?.findings);
  });
});
