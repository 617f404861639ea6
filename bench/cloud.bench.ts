/**
 * `npm run bench` (part 2, needs `npm run services:up`): lake put/get throughput per backend, warehouse bulk load
 * with the adapter's COPY against psql's \copy of the same file, and the full pipeline's wall time per adapter
 * profile at one scale. Writes bench/results/cloud.json and bench/results/cloud.md.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { openObjectStore } from '../adapters/storage/index.ts';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import { openSqlDatabase } from '../adapters/warehouse/index.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext } from '../jobs/context.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { createCloudProfiles } from '../test/cloud-profiles.ts';

const root = new URL('..', import.meta.url).pathname;
const OBJECT_MIB = Number(process.env.BENCH_OBJECT_MIB ?? '64');
const LOAD_ROWS = Number(process.env.BENCH_LOAD_ROWS ?? '1000000');
const PIPELINE_SCALE = Number(process.env.BENCH_PROFILE_SCALE ?? '1');

async function storeThroughput(store: ObjectStore): Promise<{ putMiBps: number; getMiBps: number }> {
  const chunk = randomBytes(1024 * 1024);
  const key = `bench/${randomBytes(4).toString('hex')}.bin`;
  let started = performance.now();
  await store.put(
    key,
    Readable.from(
      (function* () {
        for (let i = 0; i < OBJECT_MIB; i += 1) yield chunk;
      })(),
    ),
  );
  const putSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const hash = createHash('sha256');
  for await (const piece of await store.get(key)) hash.update(piece as Buffer);
  const getSeconds = (performance.now() - started) / 1000;
  await store.delete(key);
  return { putMiBps: OBJECT_MIB / putSeconds, getMiBps: OBJECT_MIB / getSeconds };
}

async function writeLoadFile(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('id,customer_id,status,amount,note,created_at\n');
  for (let i = 0; i < LOAD_ROWS; i += 1) {
    const line = `${i},${i % 5000},${i % 3 === 0 ? 'shipped' : 'pending'},${(i % 997) + 0.99},"note, ${i}",2026-11-01 10:00:00+00\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
}

const services = loadServiceEnv();
const profiles = await createCloudProfiles('bench');
const results: Record<string, unknown> = {
  machine: `${cpus().length} cores, Node ${process.version}`,
  objectMiB: OBJECT_MIB,
};

// 1. Lake throughput per backend.
const folder = mkdtempSync(join(tmpdir(), 'ecomm-cloud-bench-'));
const stores: [string, string][] = [
  ['local', `file://${folder}/lake`],
  ['s3 (moto)', profiles.aws.settings.LAKE_URL ?? ''],
  ['azure blob (azurite)', profiles.azure.settings.LAKE_URL ?? ''],
];
const throughput: Record<string, { putMiBps: number; getMiBps: number }> = {};
for (const [name, url] of stores) {
  const store = openObjectStore(url);
  throughput[name] = await storeThroughput(store);
  await store.close();
  process.stdout.write(
    `${name}: put ${throughput[name]?.putMiBps.toFixed(0)} MiB/s, get ${throughput[name]?.getMiBps.toFixed(0)} MiB/s\n`,
  );
}
results.throughput = throughput;

// 2. Warehouse bulk load: the adapter's COPY FROM STDIN against psql's \copy, same file, same table shape.
const csvPath = join(folder, 'lake', 'load.csv');
mkdirSync(join(folder, 'lake'), { recursive: true });
await writeLoadFile(csvPath);
const warehouseUrl = profiles.aws.settings.WAREHOUSE_URL ?? '';
const db = await openSqlDatabase('WAREHOUSE_URL', warehouseUrl);
const ddl =
  'id integer, customer_id integer, status varchar(16), amount numeric(12,2), note varchar(64), created_at timestamptz';
await db.exec(
  `drop table if exists bench_copy; create table bench_copy (${ddl}); drop table if exists bench_psql; create table bench_psql (${ddl})`,
);
const lake = openObjectStore(`file://${folder}/lake`);
let started = performance.now();
const loaded = await db.copyFromCsv(
  'bench_copy',
  ['id', 'customer_id', 'status', 'amount', 'note', 'created_at'],
  { store: lake, key: 'load.csv' },
);
const adapterSeconds = (performance.now() - started) / 1000;
started = performance.now();
const psql = spawnSync(
  'psql',
  [
    warehouseUrl,
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy bench_psql from '${csvPath}' with (format csv, header true)`,
  ],
  { encoding: 'utf8' },
);
const psqlSeconds = (performance.now() - started) / 1000;
if (psql.status !== 0) throw new Error(`psql \\copy failed: ${psql.stderr}`);
await db.close();
results.load = {
  rows: loaded,
  adapterRowsPerSecond: Math.round(loaded / adapterSeconds),
  psqlRowsPerSecond: Math.round(LOAD_ROWS / psqlSeconds),
  ratio: psqlSeconds / adapterSeconds,
};
process.stdout.write(
  `load ${loaded} rows: adapter ${adapterSeconds.toFixed(2)} s, psql \\copy ${psqlSeconds.toFixed(2)} s\n`,
);

// 3. The full pipeline per profile at one scale.
process.env.PII_HASH_KEY ??= 'bench-key';
const pipelines: Record<string, number> = {};
for (const [name, settings] of [
  [
    'embedded',
    {
      LAKE_URL: `file://${folder}/emb-lake`,
      STREAM_URL: 'memory://',
      WAREHOUSE_URL: `pglite://${folder}/emb-wh`,
      SOURCE_URL: `pglite://${folder}/emb-src`,
    },
  ],
  ['aws-like', profiles.aws.settings],
  ['azure-like', profiles.azure.settings],
] as [string, Record<string, string>][]) {
  const context = createJobContext(loadConfig({ ...settings, LOG_LEVEL: 'silent' }));
  const begin = performance.now();
  const result = await runPipeline(context, {
    generateIfEmpty: { seed: 42, scale: PIPELINE_SCALE, asOf: new Date('2026-10-01T00:00:00Z') },
  });
  pipelines[name] = (performance.now() - begin) / 1000;
  await context.close();
  if (!result.ok) throw new Error(`${name} pipeline blocked: ${result.blockedBy.join(', ')}`);
  process.stdout.write(`pipeline ${name} at scale ${PIPELINE_SCALE}: ${pipelines[name]?.toFixed(1)} s\n`);
}
results.pipelines = { scale: PIPELINE_SCALE, seconds: pipelines };
await profiles.dispose();
rmSync(folder, { recursive: true, force: true });

const load = results.load as {
  rows: number;
  adapterRowsPerSecond: number;
  psqlRowsPerSecond: number;
  ratio: number;
};
const lines = [
  '# Cloud adapters benchmark (loopback test services)',
  '',
  `Run ${new Date().toISOString()} on ${results.machine as string}. Command: \`npm run bench\` (services from \`npm run services:up\`: moto S3, Azurite, Kafka ${'4.3'}, PostgreSQL 15). Postgres at ${services.TEST_PG_HOST}.`,
  '',
  `## Lake put/get of a ${OBJECT_MIB} MiB object, streamed`,
  '',
  '| backend | put MiB/s | get MiB/s |',
  '|---|---|---|',
  ...Object.entries(throughput).map(
    ([name, t]) => `| ${name} | ${t.putMiBps.toFixed(0)} | ${t.getMiBps.toFixed(0)} |`,
  ),
  '',
  `## Warehouse bulk load, ${load.rows.toLocaleString('en-US')} rows x 6 columns (PostgreSQL)`,
  '',
  `- adapter COPY FROM STDIN (streamed from the lake): **${load.adapterRowsPerSecond.toLocaleString('en-US')} rows/s**`,
  `- psql \\copy of the same file: ${load.psqlRowsPerSecond.toLocaleString('en-US')} rows/s (includes psql start)`,
  `- ratio adapter/psql: **${load.ratio.toFixed(2)}**`,
  '',
  `## Full pipeline at scale ${PIPELINE_SCALE} (generate + run), per adapter profile`,
  '',
  '| profile | wall s |',
  '|---|---|',
  ...Object.entries(pipelines).map(([name, seconds]) => `| ${name} | ${seconds.toFixed(1)} |`),
  '',
];
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/cloud.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(root, 'bench/results/cloud.md'), lines.join('\n'));
process.stdout.write(`${lines.join('\n')}\n`);
