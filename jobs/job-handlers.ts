import * as batches from './batches/index.ts';
import type { JobContext } from './context.ts';
import * as extract from './extract/index.ts';
import * as generator from './generate/index.ts';
import * as load from './load/index.ts';
import * as monitor from './monitor/index.ts';
import type { BatchStatus } from './ops/batches.ts';
import * as quality from './quality/index.ts';
import * as quarantine from './quarantine/index.ts';
import * as reconcile from './reconcile/index.ts';
import * as pipeline from './run/index.ts';
import * as streamIngest from './stream-ingest/index.ts';
import * as transform from './transform/index.ts';
import * as validate from './validate/index.ts';
import * as watchdog from './watchdog/index.ts';

export interface JobOptions {
  seed?: number;
  scale?: number;
  asOf?: Date;
  replace?: boolean;
  demo?: boolean;
  layer?: 'bronze' | 'silver' | 'gold' | 'all';
  follow?: boolean;
  healthPort?: number;
  port?: number;
  host?: string;
  batch?: string;
  /** `ecomm batches`: which tool, and its options. */
  action?: 'list' | 'retry' | 'skip';
  status?: BatchStatus | 'all';
  reason?: string;
}

type Handler = (context: JobContext, options: JobOptions) => Promise<number>;

const out = (line: string) => process.stdout.write(`${line}\n`);

/** What each `ecomm <job>` does; every handler returns the process exit code. */
export const JOB_HANDLERS: Record<string, Handler> = {
  generate: (context, options) => generator.run(context, options, out),
  extract: (context, options) => extract.run(context, options, out),
  'stream-ingest': (context, options) => streamIngest.run(context, options, out),
  validate: (context, options) => validate.run(context, options, out),
  load: (context, options) => load.run(context, options, out),
  reconcile: (context, options) => reconcile.run(context, options, out),
  transform: (context, options) =>
    transform.run(context, { layer: options.layer === 'bronze' ? undefined : options.layer }, out),
  quality: (context, options) => quality.run(context, options, out),
  watchdog: (context, options) => watchdog.run(context, options, out),
  quarantine: (context, options) => quarantine.run(context, options, out),
  batches: (context, options) => batches.run(context, options, out),
  monitor: (context, options) => monitor.run(context, options, out),
  run: (context, options) => pipeline.run(context, options, out),
};
