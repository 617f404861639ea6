/**
 * `ecomm generate`'s entry (run) and the synthetic data generator's public surface, which the pipeline's demo, the
 * tests and the benchmarks use. See docs/generator.md.
 */

import { parseHubSpotUrl } from '../../adapters/source/hubspot.ts';
import { parseSnowflakeUrl } from '../../adapters/source/snowflake.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { seedCrm } from './crm.ts';
import { generate } from './generate.ts';
import { seedHistory } from './history.ts';
import { generateInWorker, generatesInWorker } from './worker-host.ts';

export { ANOMALY_FRACTIONS, MIN_PER_KIND } from './anomalies.ts';
export {
  applySourceChanges,
  orderStatusEvents,
  type SourceChangeOptions,
  type SourceChanges,
} from './changes.ts';
export { type GenerateJobOptions, generate } from './generate.ts';
export {
  createSourceSchema,
  type LoadOptions,
  loadSourceDatabase,
  nonEmptySourceTables,
  publishEvents,
  SOURCE_SCHEMA_SQL,
} from './source-writer.ts';
export { BASE_COUNTS, generateStoreData } from './store-data.ts';
export type {
  Anomaly,
  AnomalyExpectation,
  AnomalyKind,
  CustomerRow,
  EventMessage,
  FxRateRow,
  GeneratedData,
  GenerateOptions,
  GenerateResult,
  OrderItemRow,
  OrderRow,
  ProductRow,
  SourceRows,
} from './types.ts';

/** The flags of `ecomm generate` (and of `ecomm run --demo`, which generates into an empty source). */
export interface GenerateCommandOptions {
  seed?: number;
  scale?: number;
  asOf?: Date;
  /** Empty the source tables first instead of refusing. */
  replace?: boolean;
  /** Also seed this HubSpot portal (a hubspot:// URL; default CRM_SOURCE_URL when it is set). */
  crmUrl?: string;
  /** Also seed this Snowflake history table (a snowflake:// URL; default HISTORY_SOURCE_URL when it is set). */
  historyUrl?: string;
}

/** UTC midnight of today: the generator's default "as of". */
export function todayUtc(now: Date): Date {
  return new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
}

/** `ecomm generate`: seeds the source and the topics, then says how much of each and how many bad records. */
export async function run(
  context: JobContext,
  options: GenerateCommandOptions,
  output: PrintLine,
): Promise<number> {
  const job = {
    seed: options.seed ?? 42,
    scale: options.scale ?? 1,
    asOf: options.asOf ?? todayUtc(context.now()),
    replace: options.replace ?? false,
    now: context.now(),
    // Only counted here: the manifest would be the one part of the job's memory that grows with the scale.
    manifest: false,
  };
  const result = generatesInWorker(context)
    ? await generateInWorker(context, job)
    : await generate({ db: await context.source(), stream: context.stream(), ...job });
  for (const [source, count] of Object.entries(result.counts))
    output(`generated ${source.padEnd(14)} ${count}`);
  output(`injected ${result.anomalyCount} bad records (see docs/generator.md)`);
  const crmUrl = options.crmUrl ?? context.config.CRM_SOURCE_URL;
  if (crmUrl) {
    const token = await context.secrets().get(parseHubSpotUrl(crmUrl, '--crm-url').tokenSecret);
    const crm = await seedCrm({ url: crmUrl, token, seed: job.seed, source: await context.source() });
    output(
      `seeded CRM        ${crm.contacts} contacts, ${crm.companies} companies, ` +
        `${crm.lifecycleChanges} lifecycle changes`,
    );
  }
  const historyUrl = options.historyUrl ?? context.config.HISTORY_SOURCE_URL;
  if (historyUrl) {
    const secret = parseSnowflakeUrl('--history-url', historyUrl).passwordSecret;
    const history = await seedHistory({
      url: historyUrl,
      password: await context.secrets().get(secret),
      seed: job.seed,
      asOf: job.asOf,
      liveOrders: result.counts.orders ?? 0,
    });
    output(
      `seeded history    ${history.rows} rows, ${history.days} days (${history.first} to ${history.last})`,
    );
  }
  for (const trimmed of result.trimmedByRetention)
    output(
      `warning: ${trimmed.events} ${trimmed.topic} events are older than the topic's retention ` +
        `(${Math.round(trimmed.retentionMs / 3_600_000)} h, set before this run): the broker deletes them unread, ` +
        'and stream-ingest will report the loss as a retention gap; generate into new topics (they are created ' +
        'with a retention covering the history) or with a later --as-of',
    );
  return 0;
}
