// One real round trip against each local test service, using .services/env.json
// (written by `npm run services:up`). Prints OK per service; exits 1 naming the failures.
//
//   PATH=node_modules/.bin:$PATH node scripts/services/smoke.ts
import crypto from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { silenceKafkajsTimeoutWarning } from '../../adapters/stream/kafka-warnings.ts';
import { loadServiceEnv, type ServiceEnv } from './env.ts';

silenceKafkajsTimeoutWarning();

const TIMEOUT_MS = 60_000;
const token = `${Date.now()}-${crypto.randomBytes(4).toString('hex')}`;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)), TIMEOUT_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer)) as Promise<T>;
}

function expectEqual(what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

async function postgres(env: ServiceEnv): Promise<string> {
  const parts: string[] = [];
  for (const url of [env.TEST_SOURCE_PG_URL, env.TEST_PG_URL]) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query('create temporary table smoke (id int primary key, note text)');
      await client.query('insert into smoke values ($1, $2)', [1, token]);
      const r = await client.query<{ db: string; note: string }>(
        'select current_database() as db, note from smoke where id = 1',
      );
      expectEqual('row read back', r.rows[0]?.note, token);
      parts.push(r.rows[0]?.db ?? '?');
    } finally {
      await client.end();
    }
  }
  return `databases ${parts.join(', ')}`;
}

async function kafka(env: ServiceEnv): Promise<string> {
  const k = new Kafka({
    clientId: 'services-smoke',
    brokers: env.TEST_KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const topic = `smoke-${token}`;
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();

  const producer = k.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k', value: token }] });
  await producer.disconnect();

  const consumer = k.consumer({ groupId: `smoke-${token}`, sessionTimeout: 10_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise<string>((resolve, reject) => {
    consumer
      .run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') })
      .catch(reject);
  });
  await consumer.disconnect();
  expectEqual('message consumed', got, token);

  const cleanup = k.admin();
  await cleanup.connect();
  await cleanup.deleteTopics({ topics: [topic] }).catch(() => {});
  await cleanup.disconnect();
  return `produced and consumed 1 message on ${topic}`;
}

async function azurite(env: ServiceEnv): Promise<string> {
  const service = BlobServiceClient.fromConnectionString(env.TEST_AZURE_STORAGE_CONNECTION_STRING);
  const container = service.getContainerClient('smoke');
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(`smoke/${token}.txt`);
  await blob.upload(token, Buffer.byteLength(token));
  const body = (await blob.downloadToBuffer()).toString('utf8');
  expectEqual('blob read back', body, token);
  await blob.delete();
  return `uploaded and downloaded smoke/${token}.txt`;
}

async function s3(env: ServiceEnv): Promise<string> {
  const client = new S3Client({
    endpoint: env.TEST_S3_ENDPOINT,
    region: env.TEST_S3_REGION,
    forcePathStyle: env.TEST_S3_FORCE_PATH_STYLE === 'true',
    credentials: { accessKeyId: env.TEST_S3_ACCESS_KEY_ID, secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY },
  });
  const Bucket = 'smoke';
  const Key = `smoke/${token}.txt`;
  try {
    await client.send(new CreateBucketCommand({ Bucket }));
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  }
  await client.send(new PutObjectCommand({ Bucket, Key, Body: token, ContentType: 'text/plain' }));
  const got = await client.send(new GetObjectCommand({ Bucket, Key }));
  expectEqual('object read back', await got.Body?.transformToString(), token);
  await client.send(new DeleteObjectCommand({ Bucket, Key }));
  client.destroy();
  return `put and got s3://${Bucket}/${Key}`;
}

async function main(): Promise<number> {
  let env: ServiceEnv;
  try {
    env = loadServiceEnv();
  } catch (e) {
    console.error(`FAIL env: ${(e as Error).message}`);
    return 1;
  }
  const checks: [string, (env: ServiceEnv) => Promise<string>][] = [
    ['postgres', postgres],
    ['kafka', kafka],
    ['azurite', azurite],
    ['s3', s3],
  ];
  const results = await Promise.allSettled(
    checks.map(async ([, fn]) => {
      const started = Date.now();
      const detail = await withTimeout(fn(env));
      return `${detail} (${Date.now() - started} ms)`;
    }),
  );
  const failed: string[] = [];
  results.forEach((r, i) => {
    const name = checks[i]?.[0] ?? '?';
    if (r.status === 'fulfilled') console.log(`OK   ${name.padEnd(8)} ${r.value}`);
    else {
      failed.push(name);
      const err = r.reason as Error;
      console.log(`FAIL ${name.padEnd(8)} ${err?.name ?? ''}: ${err?.message ?? String(r.reason)}`);
    }
  });
  if (failed.length) {
    console.error(
      `smoke: ${failed.join(', ')} failed; see .services/logs/ and \`npm run services:up\` (docs/services.md)`,
    );
    return 1;
  }
  console.log('smoke: all 4 services OK');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
