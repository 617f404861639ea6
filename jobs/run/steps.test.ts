/**
 * `ecomm run`'s step runner hands a finished step's garbage back before the next step starts (memory-limits.ts
 * collectBetweenSteps): a full collection after each step that completed, none after a failed attempt (its retry
 * follows at once).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../config.ts';
import { createJobContext } from '../context.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { stepRunner } from './steps.ts';

describe("ecomm run's steps", () => {
  let db: SqlDatabase;
  const exposed = (globalThis as { gc?: () => void }).gc;
  let collections: string[] = [];
  let current = '';

  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
  });
  afterAll(async () => {
    await db.close();
  });
  afterEach(() => {
    (globalThis as { gc?: () => void }).gc = exposed;
  });

  it('collects garbage after each step that completed, before the next one starts', async () => {
    (globalThis as { gc?: () => void }).gc = () => collections.push(current);
    collections = [];
    const context = createJobContext(loadConfig({ LOG_LEVEL: 'silent' }), {
      runId: 'steps-gc',
      shared: { warehouse: db },
    });
    const step = stepRunner(context, [], null, async () => {});
    let attempts = 0;
    const rows = { rows: (value: number) => value };
    current = 'extract';
    await step('extract', async () => 1, rows);
    current = 'load';
    // An outage on the first attempt: retried in the run, collected once, after the attempt that completed.
    await step(
      'load',
      async () => {
        attempts += 1;
        if (attempts === 1) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return 2;
      },
      rows,
    );
    expect(attempts).toBe(2);
    expect(collections).toEqual(['extract', 'load']);
  });
});
