import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';

const CLI = new URL('../jobs/cli.ts', import.meta.url).pathname;
const HEALTHCHECK = new URL('../jobs/healthcheck.ts', import.meta.url).pathname;

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function event(index: number): string {
  return JSON.stringify({
    event_id: `svc-${index}`,
    event_type: 'page_view',
    occurred_at: new Date(Date.UTC(2026, 9, 1, 10, 0, index % 60)).toISOString(),
    session_id: `s-${index % 17}`,
    device: 'web',
  });
}

describe('stream-ingest --follow (the long-running service) on the real broker', () => {
  it('ingests events as they arrive, reports health and lag, and on SIGTERM commits and exits 0', async () => {
    const services = loadServiceEnv();
    const folder = mkdtempSync(join(tmpdir(), 'stream-service-'));
    const prefix = `svc-${Date.now().toString(36)}.`;
    const env = {
      PATH: process.env.PATH ?? '',
      TMPDIR: folder,
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: `kafka://${services.TEST_KAFKA_BROKERS}`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}group`,
      WAREHOUSE_URL: `pglite://${folder}/warehouse`,
    };
    const producer = withTopicPrefix(openKafkaStream(`kafka://${services.TEST_KAFKA_BROKERS}`), prefix);
    await producer.ensureTopics([
      { name: 'clickstream', partitions: 3 },
      { name: 'order-events', partitions: 3 },
    ]);
    await producer.publish(
      'clickstream',
      Array.from({ length: 500 }, (_, i) => ({ key: `s-${i % 17}`, value: event(i) })),
    );

    const service = spawn(process.execPath, [CLI, 'stream-ingest', '--follow', '--health-port', '0'], {
      cwd: folder,
      env,
    });
    let stdout = '';
    let stderr = '';
    service.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    service.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => service.on('exit', (code) => resolve(code)));
    try {
      const base = await waitFor(
        async () => /health on (http:\/\/\S+)\/healthz/.exec(stdout)?.[1],
        'the health endpoint',
      );
      type Status = {
        ready: boolean;
        eventsWritten: number;
        totalLag: number;
        lastFlushAt: string | null;
        lag: unknown[];
      };
      const status = async () => (await (await fetch(`${base}/status`)).json()) as Status;
      await waitFor(
        async () => ((await status()).eventsWritten === 500 ? true : undefined),
        '500 events written',
      );
      await producer.publish(
        'clickstream',
        Array.from({ length: 300 }, (_, i) => ({ key: `s-${i % 17}`, value: event(500 + i) })),
      );
      const settled = await waitFor(async () => {
        const now = await status();
        return now.eventsWritten === 800 && now.totalLag === 0 ? now : undefined;
      }, 'the second wave written and committed');
      expect(settled.ready).toBe(true);
      expect(settled.lastFlushAt).not.toBeNull();
      expect(settled.lag).toHaveLength(6);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const probe = spawnSync(process.execPath, [HEALTHCHECK], { env: { PATH: env.PATH, TMPDIR: folder } });
      expect(probe.status).toBe(0);

      const stoppedAt = performance.now();
      service.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(performance.now() - stoppedAt).toBeLessThan(15_000);
      expect(stdout).toMatch(/stream-ingest stopped: 800 events/);
    } finally {
      service.kill('SIGKILL');
      await producer.close();
    }
    const afterStop = spawnSync(process.execPath, [HEALTHCHECK], { env: { PATH: env.PATH, TMPDIR: folder } });
    expect(afterStop.status).toBe(0); // no service recorded any more: a batch job's container is healthy

    const warehouse = await openPglite(`pglite://${folder}/warehouse`);
    const [ledger] = await warehouse.query<{ rows: number }>(
      "select cast(sum(rows_raw) as integer) as rows from ops.batches where source = 'clickstream'",
    );
    expect(ledger?.rows).toBe(800);
    await warehouse.close();
  });
});
