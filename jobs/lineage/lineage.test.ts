import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../adapters/storage/local.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { type Receiver, startReceiver } from '../alerts/test-receiver.ts';
import { type Config, loadConfig } from '../config.ts';
import { createJobContext, type JobContext } from '../context.ts';
import { lineageOf, useLineageSink, withLineageRun } from './emitter.ts';
import { lineagePath, readLineageEvents } from './graph.ts';
import { databaseNamespace, lakeLocation, tableDataset, topicDataset } from './naming.ts';
import {
  dataQualityAssertionsFacet,
  FACET_SCHEMA_URLS,
  outputStatisticsFacet,
  type RunEvent,
  runEvent,
  schemaFacet,
  sqlFacet,
} from './openlineage.ts';
import {
  httpLineageSink,
  type LineageSink,
  lakeLineageSink,
  lineageEndpoint,
  memoryLineageSink,
} from './sink.ts';
import { createLineageValidator } from './validator.ts';

const SCHEMAS = new URL('./schemas/', import.meta.url);
const validator = createLineageValidator();

function sampleEvent(eventType: RunEvent['eventType'] = 'COMPLETE'): RunEvent {
  return runEvent({
    eventType,
    eventTime: new Date('2026-10-01T10:00:00Z'),
    runId: '4f1c0cbe-6a8e-4c8e-9d3e-1b7d2f0e5a11',
    job: { namespace: 'ecomm', name: 'transform.gold.fact_orders' },
    parent: { runId: '0b8f6a52-2d5c-4a55-8a0b-6f3c9f1f7e21', namespace: 'ecomm', name: 'run' },
    jobFacets: { sql: sqlFacet('select * from silver.orders') },
    inputs: [
      {
        namespace: 'postgres://db:5432',
        name: 'postgres.silver.orders',
        inputFacets: {
          dataQualityAssertions: dataQualityAssertionsFacet([
            { assertion: 'not_null', success: true, column: 'order_id' },
          ]),
        },
      },
    ],
    outputs: [
      {
        namespace: 'postgres://db:5432',
        name: 'postgres.gold.fact_orders',
        facets: { schema: schemaFacet([{ name: 'order_id', type: 'integer' }]) },
        outputFacets: { outputStatistics: outputStatisticsFacet(42) },
      },
    ],
  });
}

describe('vendored OpenLineage schemas', () => {
  it('hold the official 2-0-2 core, byte for byte', () => {
    const bytes = readFileSync(new URL('OpenLineage.json', SCHEMAS));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      '69f68bee00b9beac88a87059c0102410e7bb05f3f43c46d02a0409831eceb0d2',
    );
    expect(JSON.parse(bytes.toString('utf8')).$id).toBe('https://openlineage.io/spec/2-0-2/OpenLineage.json');
  });

  it('stamp every facet with the $id of the schema it is validated against', () => {
    const files: Record<keyof typeof FACET_SCHEMA_URLS, string> = {
      sql: 'SQLJobFacet.json',
      schema: 'SchemaDatasetFacet.json',
      outputStatistics: 'OutputStatisticsOutputDatasetFacet.json',
      dataQualityAssertions: 'DataQualityAssertionsDatasetFacet.json',
      parent: 'ParentRunFacet.json',
    };
    for (const [key, file] of Object.entries(files)) {
      const schema = JSON.parse(readFileSync(new URL(`facets/${file}`, SCHEMAS), 'utf8')) as {
        $id: string;
        $defs: Record<string, unknown>;
      };
      const name = Object.keys(schema.$defs)[0];
      expect(FACET_SCHEMA_URLS[key as keyof typeof FACET_SCHEMA_URLS]).toBe(`${schema.$id}#/$defs/${name}`);
    }
  });

  it('accept a well-formed event and name what is wrong with a broken one', () => {
    expect(validator.problems(sampleEvent())).toEqual([]);
    const broken = structuredClone(sampleEvent()) as unknown as {
      run: { runId: string };
      job: { facets: { sql: Record<string, unknown> } };
      outputs: { outputFacets: { outputStatistics: Record<string, unknown> } }[];
      producer?: string;
    };
    broken.run.runId = 'not-a-uuid';
    delete broken.job.facets.sql.query;
    if (broken.outputs[0]) broken.outputs[0].outputFacets.outputStatistics.rowCount = 'many';
    delete broken.producer;
    const problems = validator.problems(broken);
    expect(problems.join('\n')).toMatch(/runId must match format "uuid"/);
    expect(problems.join('\n')).toMatch(/job\.sql: data must have required property 'query'/);
    expect(problems.join('\n')).toMatch(/outputStatistics: data\/rowCount must be integer/);
    expect(problems.join('\n')).toMatch(/required property 'producer'/);
  });
});

describe('dataset naming (OpenLineage conventions)', () => {
  it('names warehouse and source tables <database>.<schema>.<table> under the engine namespace', () => {
    expect(tableDataset('postgres://etl:secret@oltp.internal/shop?sslmode=require', 'public.orders')).toEqual(
      {
        namespace: 'postgres://oltp.internal:5432',
        name: 'shop.public.orders',
      },
    );
    expect(
      tableDataset(
        'redshift://etl@wh.abc.eu-west-1.redshift.amazonaws.com:5439/analytics',
        'gold.fact_orders',
      ),
    ).toEqual({
      namespace: 'redshift://wh.abc.eu-west-1.redshift.amazonaws.com:5439',
      name: 'analytics.gold.fact_orders',
    });
    expect(tableDataset('pglite://./data/source', 'public.orders')).toEqual({
      namespace: 'pglite://./data/source',
      name: 'postgres.public.orders',
    });
    expect(databaseNamespace('postgresql://h:6432/db')).toBe('postgres://h:6432');
  });

  it('names topics by their first bootstrap server and lake folders by store', () => {
    expect(topicDataset('kafka://b1:9092,b2:9092?mechanism=aws', 'prod.clickstream')).toEqual({
      namespace: 'kafka://b1:9092',
      name: 'prod.clickstream',
    });
    expect(lakeLocation('s3://lake-bucket/ecomm/raw/source=orders')).toEqual({
      namespace: 's3://lake-bucket',
      name: 'ecomm/raw/source=orders',
    });
    expect(lakeLocation('https://acct.blob.core.windows.net/lake/ecomm/raw/source=orders')).toEqual({
      namespace: 'wasbs://lake@acct.blob.core.windows.net',
      name: 'ecomm/raw/source=orders',
    });
    expect(lakeLocation('/srv/data/lake/raw/source=orders')).toEqual({
      namespace: 'file',
      name: '/srv/data/lake/raw/source=orders',
    });
  });
});

describe('lineage sinks and the emitter', () => {
  let folder: string;
  let lake: ObjectStore;
  let receiver: Receiver;
  let config: Config;
  const contextWith = (overrides: Record<string, unknown> = {}): JobContext =>
    createJobContext({ ...config, ...overrides } as Config, { shared: { lake } });

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'ecomm-lineage-'));
    lake = openLocalStore(`file://${folder}/lake`);
    receiver = await startReceiver();
    config = loadConfig({
      LAKE_URL: `file://${folder}/lake`,
      WAREHOUSE_URL: 'pglite://memory',
      LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('writes a step as START then COMPLETE to the lake, under the invocation run id, with its parent facet', async () => {
    const context = contextWith();
    expect(lineageOf(context).sink.kind).toBe('lake');
    await withLineageRun(context, 'extract', async () => {
      await lineageOf(context).step({
        job: 'extract.orders',
        startedAt: new Date('2026-10-01T10:00:00Z'),
        finishedAt: new Date('2026-10-01T10:00:02Z'),
        inputs: [tableDataset('pglite://./data/source', 'public.orders')],
        outputs: [
          {
            namespace: 'file',
            name: '/lake/raw/source=orders',
            outputFacets: { outputStatistics: outputStatisticsFacet(3) },
          },
        ],
      });
    });
    const keys: string[] = [];
    for await (const object of lake.list(`lineage/run_id=${context.runId}/`)) keys.push(object.key);
    expect(keys).toEqual([1, 2, 3, 4].map((seq) => `lineage/run_id=${context.runId}/00000${seq}.json`));
    const events = await readLineageEvents(lake, context.runId);
    expect(events.map((event) => [event.job.name, event.eventType])).toEqual([
      ['extract', 'START'],
      ['extract.orders', 'START'],
      ['extract.orders', 'COMPLETE'],
      ['extract', 'COMPLETE'],
    ]);
    expect(events[0]?.run.runId).toBe(context.runId);
    expect(events[1]?.run.runId).toBe(events[2]?.run.runId);
    expect(events[1]?.run.runId).not.toBe(context.runId);
    expect(events[2]?.run.facets?.parent).toMatchObject({
      run: { runId: context.runId },
      job: { namespace: 'ecomm', name: 'extract' },
    });
    expect(events[1]?.outputs[0]).toEqual({ namespace: 'file', name: '/lake/raw/source=orders' }); // facets on COMPLETE
    for (const event of events) expect(validator.problems(event)).toEqual([]);
  });

  it('ends with FAIL when the step or the job fails, and never lets a sink failure fail the job', async () => {
    const context = contextWith();
    const memory = memoryLineageSink();
    let calls = 0;
    const flaky: LineageSink = {
      kind: 'flaky',
      async emit(event, parent) {
        calls += 1;
        if (calls === 2) throw new Error('lake unavailable');
        await memory.emit(event, parent);
      },
    };
    const emitter = useLineageSink(context, flaky);
    await expect(
      withLineageRun(context, 'load', async () => {
        await emitter.step({
          job: 'load.bronze.orders',
          startedAt: new Date(),
          finishedAt: new Date(),
          inputs: [],
          outputs: [],
          error: new Error('x'),
        });
        throw new Error('load failed');
      }),
    ).rejects.toThrow('load failed');
    expect(emitter.failures).toBe(1);
    expect(memory.events.map((event) => [event.job.name, event.eventType])).toEqual([
      ['load', 'START'],
      ['load.bronze.orders', 'FAIL'],
      ['load', 'FAIL'],
    ]);
  });

  it('posts to a Marquez-compatible endpoint, retrying, and keeps refused events in the lake', async () => {
    expect(lineageEndpoint('http://marquez:5000')).toBe('http://marquez:5000/api/v1/lineage');
    expect(lineageEndpoint('https://ol.example.com/custom/path')).toBe('https://ol.example.com/custom/path');
    const context = contextWith({ OPENLINEAGE_URL: receiver.url, OPENLINEAGE_NAMESPACE: 'ecomm-test' });
    expect(lineageOf(context).sink.kind).toBe('http');
    let failuresLeft = 1;
    receiver.respond(() => (failuresLeft-- > 0 ? 503 : 201));
    await lineageOf(context).emit(sampleEvent());
    expect(receiver.requests.map((request) => [request.path, request.status])).toEqual([
      ['/api/v1/lineage', 503],
      ['/api/v1/lineage', 201],
    ]);
    expect(receiver.requests[1]?.body).toEqual(sampleEvent());

    receiver.requests.length = 0;
    receiver.respond(() => 500);
    const fallback = memoryLineageSink();
    const sink = httpLineageSink({
      url: receiver.url,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
      fallback,
    });
    await sink.emit(sampleEvent('START'), 'parent');
    expect(receiver.requests).toHaveLength(2);
    expect(fallback.events).toHaveLength(1);
    receiver.respond(() => 400);
    receiver.requests.length = 0;
    await expect(httpLineageSink({ url: receiver.url }).emit(sampleEvent(), 'p')).rejects.toThrow(
      /answered 400/,
    );
    expect(receiver.requests).toHaveLength(1);
  });

  it('walks the graph across jobs through shared datasets', async () => {
    const sink = lakeLineageSink(() => lake);
    const hop = (job: string, from: string, to: string) =>
      runEvent({
        eventType: 'COMPLETE',
        eventTime: new Date(),
        runId: crypto.randomUUID(),
        job: { namespace: 'ecomm', name: job },
        inputs: [{ namespace: 'n', name: from }],
        outputs: [{ namespace: 'n', name: to }],
      });
    const events = [
      hop('a', 'src', 'raw'),
      hop('b', 'raw', 'bronze'),
      hop('c', 'bronze', 'gold'),
      hop('d', 'other', 'x'),
    ];
    for (const event of events) await sink.emit(event, 'graph-run');
    const read = await readLineageEvents(lake, 'graph-run');
    expect(
      lineagePath(read, { namespace: 'n', name: 'src' }, { namespace: 'n', name: 'gold' })?.map(
        (edge) => edge.job,
      ),
    ).toEqual(['a', 'b', 'c']);
    expect(lineagePath(read, { namespace: 'n', name: 'gold' }, { namespace: 'n', name: 'src' })).toBeNull();
  });
});
