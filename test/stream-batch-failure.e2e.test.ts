/**
 * The stream service (`stream-ingest --follow`) on the real broker, with a raw micro-batch truncated before its
 * applier reaches it: that batch is marked failed (ledger, pipeline_runs, finding, incident, alert) and every batch
 * behind it, and every event published later, still reaches silver. After the object is repaired, `ecomm batches
 * retry` hands the batch back to the running service, which applies it and resolves the incident.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createZstdDecompress } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import type { RawEnvelope } from '../jobs/lake/raw-batch.ts';
import { buildModels } from '../jobs/models/build.ts';
import { loadModels } from '../jobs/models/models.ts';
import { ledgerChecks } from '../jobs/quality/ledger-checks.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import {
  CLI,
  clickEvent,
  createTestDatabase,
  type RunningService,
  silverCounts,
  startService,
  waitFor,
} from './stream-harness.ts';

/** Event ids inside a raw micro-batch's bytes (zstd NDJSON envelopes). */
async function eventIdsIn(bytes: Buffer): Promise<string[]> {
  const ids: string[] = [];
  const lines = createInterface({ input: Readable.from([bytes]).pipe(createZstdDecompress()) });
  for await (const line of lines) {
    if (line === '') continue;
    const envelope = JSON.parse(line) as RawEnvelope;
    ids.push((JSON.parse(envelope.value ?? '{}') as { event_id: string }).event_id);
  }
  return ids;
}

async function count(db: SqlDatabase, sql: string, params: string[] = []): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql, params);
  return Number(row?.n ?? 0);
}

async function stop(service: RunningService): Promise<void> {
  service.child.kill('SIGTERM');
  expect(await service.exited, service.stderr().slice(-3000)).toBe(0);
}

describe('stream service: a batch that fails on its own data is held back, not retried forever', () => {
  it('fails a truncated raw micro-batch, applies every batch behind it, and applies it after repair and retry', async () => {
    const services = loadServiceEnv();
    const folder = mkdtempSync(join(tmpdir(), 'stream-batch-failure-'));
    const database = await createTestDatabase('stream_batch_failure');
    const prefix = `sbf-${Date.now().toString(36)}.`;
    const env = {
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: `kafka://${services.TEST_KAFKA_BROKERS}`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}group`,
      WAREHOUSE_URL: database.url,
      STREAM_BATCH_MAX_EVENTS: '100',
      STREAM_BATCH_MAX_AGE_MS: '500',
      STREAM_BACKOFF_MAX_MS: '500',
    };
    const producer = withTopicPrefix(openKafkaStream(env.STREAM_URL), prefix);
    const at = new Date(Date.now() - 60_000);
    const publish = async (from: number, to: number) => {
      const ids = Array.from({ length: to - from }, (_, index) => `sbf-${from + index}`);
      await producer.publish(
        'clickstream',
        ids.map((id, index) => ({ key: `k-${index % 7}`, value: clickEvent(id, at) })),
      );
      return ids;
    };
    let warehouse: SqlDatabase | undefined;
    const running: RunningService[] = [];
    try {
      await producer.ensureTopics([
        { name: 'clickstream', partitions: 3 },
        { name: 'order-events', partitions: 3 },
      ]);
      // Ingest only, so that a raw object can be damaged before any applier reads it.
      const first = await publish(0, 300);
      const ingester = startService({ ...env, STREAM_APPLY: 'off' });
      running.push(ingester);
      await waitFor(async () => {
        const status = await ingester.status();
        return status.eventsWritten === 300 && status.totalLag === 0 ? true : undefined;
      }, 'the first 300 events written and committed');
      await stop(ingester);

      warehouse = await openPostgres(database.url);
      const db = warehouse;
      const [damaged] = await db.query<{ batch_id: string; raw_key: string }>(
        `select batch_id, raw_key from ops.batches where source = 'clickstream' and source_kind = 'stream'
         order by batch_id limit 1`,
      );
      if (!damaged) throw new Error('no stream batch was registered');
      const rawPath = join(folder, 'lake', damaged.raw_key);
      const original = readFileSync(rawPath);
      const heldBack = new Set(await eventIdsIn(original));
      expect(heldBack.size).toBeGreaterThan(0);
      writeFileSync(rawPath, original.subarray(0, Math.floor(original.length / 2)));

      const service = startService(env);
      running.push(service);
      const second = await publish(300, 450);
      const everyId = [...first, ...second];
      const applied = await waitFor(async () => {
        if (service.child.exitCode !== null)
          throw new Error(`service exited: ${service.stderr().slice(-3000)}`);
        const status = await service.status();
        const pending = await count(
          db,
          `select cast(count(*) as integer) as n from ops.batches where source_kind = 'stream'
           and loaded_at is null and failed_at is null and skipped_at is null`,
        );
        return status.eventsWritten === 150 &&
          status.totalLag === 0 &&
          pending === 0 &&
          status.apply?.batchesFailed === 1
          ? status
          : undefined;
      }, 'every batch applied but the damaged one');
      expect(applied.apply?.backpressure.active).toBe(false);

      // The damaged batch is held back with its reason; nothing behind it waited.
      const [failed] = await db.query<{ failed_step: string; failure_reason: string }>(
        'select failed_step, failure_reason from ops.batches where batch_id = $1',
        [damaged.batch_id],
      );
      expect(failed?.failed_step).toBe('validate');
      expect(failed?.failure_reason).toMatch(/is not valid zstd: unexpected end of file/);
      const silver = await silverCounts(db, 'silver.clickstream_events');
      expect([...silver.keys()].sort()).toEqual(everyId.filter((id) => !heldBack.has(id)).sort());
      expect([...silver.values()].every((n) => n === 1)).toBe(true);
      expect(
        await count(
          db,
          `select cast(count(*) as integer) as n from ops.pipeline_runs where job = 'stream-ingest'
           and status = 'failed' and batch_id = $1`,
          [damaged.batch_id],
        ),
      ).toBe(1);
      const checkId = `batch_failed:${damaged.batch_id}`;
      expect(
        await count(
          db,
          "select cast(count(*) as integer) as n from ops.dq_findings where check_id = $1 and status = 'fail'",
          [checkId],
        ),
      ).toBe(1);
      const [incident] = await db.query<{ incident_id: string; status: string; severity: string }>(
        'select incident_id, status, severity from ops.incidents where check_id = $1',
        [checkId],
      );
      expect(incident).toMatchObject({ status: 'open', severity: 'critical' });
      expect(
        await count(
          db,
          "select cast(count(*) as integer) as n from ops.alert_deliveries where incident_id = $1 and action = 'trigger'",
          [incident?.incident_id as string],
        ),
      ).toBe(2);

      // The operator's view and tool, as a separate process against the same warehouse.
      const cliEnv = {
        PATH: process.env.PATH ?? '',
        LAKE_URL: env.LAKE_URL,
        WAREHOUSE_URL: env.WAREHOUSE_URL,
      };
      const listed = spawnSync(process.execPath, [CLI, 'batches', 'list'], { encoding: 'utf8', env: cliEnv });
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(
        new RegExp(
          `${damaged.batch_id} {2}clickstream \\(stream\\) {2}failed .* failed at validate: raw object`,
        ),
      );
      writeFileSync(rawPath, original);
      const retried = spawnSync(process.execPath, [CLI, 'batches', 'retry', '--batch', damaged.batch_id], {
        encoding: 'utf8',
        env: cliEnv,
      });
      expect(retried.status, retried.stderr).toBe(0);
      expect(retried.stdout).toContain("back in the stream service's queue");

      await waitFor(
        async () =>
          (await silverCounts(db, 'silver.clickstream_events')).size === everyId.length ? true : undefined,
        'the retried batch applied',
      );
      await waitFor(
        async () =>
          (
            await db.query<{ status: string }>('select status from ops.incidents where check_id = $1', [
              checkId,
            ])
          )[0]?.status === 'resolved'
            ? true
            : undefined,
        'the incident resolved',
      );
      await stop(service);

      const after = await silverCounts(db, 'silver.clickstream_events');
      expect([...after.keys()].sort()).toEqual([...everyId].sort());
      expect([...after.values()].every((n) => n === 1)).toBe(true);
      const reconciliation = (await ledgerChecks(db, new Date())).filter(
        (finding) => finding.checkType === 'row_count_reconciliation',
      );
      expect(reconciliation.filter((finding) => !finding.passed)).toEqual([]);
      // Incremental silver equals a full rebuild with the same model SQL.
      const snapshot = async () =>
        (await db.query('select t::text as row_text from silver.clickstream_events t order by 1')).map(
          (row) => row.row_text,
        );
      const incremental = await snapshot();
      await buildModels(db, loadModels(), { vars: {}, only: ['silver.clickstream_events'] });
      expect(await snapshot()).toEqual(incremental);
    } finally {
      for (const service of running) service.child.kill('SIGKILL');
      await producer.close();
      await warehouse?.close();
      await database.dispose();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 240_000);
});
