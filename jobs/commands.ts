/** The `ecomm` commands (jobs/cli.ts is the entry that runs them): every job wired to its flags and exit codes. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { redactSecrets } from '../adapters/redact.ts';
import { parseHubSpotUrl } from '../adapters/source/hubspot.ts';
import { parseSnowflakeUrl } from '../adapters/source/snowflake.ts';
import { UnsupportedUrlError } from '../adapters/url.ts';
import * as backfill from './backfill/index.ts';
import * as batches from './batches/index.ts';
import { JOB_CATALOG, type JobName, type JobSpec } from './catalog.ts';
import {
  type Config,
  ConfigError,
  loadConfig,
  requiresExplicitSettings,
  SERVICE_DEFAULTS,
} from './config.ts';
import { createJobContext, type JobContext, JobStoppedError, type PrintLine } from './context.ts';
import * as extract from './extract/index.ts';
import * as generator from './generate/index.ts';
import * as grants from './grants/index.ts';
import { withLineageRun } from './lineage/emitter.ts';
import * as load from './load/index.ts';
import { loadModels } from './models/models.ts';
import { resolveSelector, SelectionError, splitSelectors } from './models/selection.ts';
import * as monitor from './monitor/index.ts';
import type { BatchStatus } from './ops/batches.ts';
import { LEASE_LOST, RunLeaseHeldError, withRunLease } from './ops/run-lease.ts';
import * as quality from './quality/index.ts';
import * as quarantine from './quarantine/index.ts';
import * as rebuild from './rebuild/index.ts';
import * as reconcile from './reconcile/index.ts';
import * as pipeline from './run/index.ts';
import * as streamIngest from './stream-ingest/index.ts';
import * as transform from './transform/index.ts';
import * as validate from './validate/index.ts';
import * as watchdog from './watchdog/index.ts';

/**
 * Exit codes, documented in the README: the container platform and schedulers act on them. `busy` (75, EX_TEMPFAIL)
 * is a run that did nothing because another run holds the warehouse's batch lease (or took it over): not a success
 * a scheduler would count as fresh data, not a failure of the data either; trying again later is the remedy.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, busy: 75, interrupted: 130, terminated: 143 } as const;

/** What commander parsed for the job that runs: that job's own flags, each checked against its choices. */
export interface JobOptions {
  seed?: number;
  scale?: number;
  asOf?: Date;
  replace?: boolean;
  /** `ecomm generate`: the HubSpot portal to seed too. */
  crmUrl?: string;
  /** `ecomm generate`: the Snowflake history table to seed too. */
  historyUrl?: string;
  demo?: boolean;
  resume?: boolean;
  fullRefresh?: boolean;
  layer?: 'bronze' | 'silver' | 'gold' | 'all';
  /** `ecomm transform`: model selectors, `<model>[+]`, each flag repeated or a comma list. */
  select?: string[];
  exclude?: string[];
  follow?: boolean;
  healthPort?: number;
  port?: number;
  host?: string;
  batch?: string;
  /** `ecomm batches`: which tool, and its options. */
  action?: 'list' | 'retry' | 'skip' | 'reload' | 'gaps' | 'acknowledge-gap';
  gap?: string;
  status?: BatchStatus | 'all';
  reason?: string;
  /** `ecomm backfill`: the source table and the window (timestamps, checked by the job). */
  source?: string;
  from?: string;
  to?: string;
  /** `ecomm rebuild`: rebuild into a warehouse that is not empty. */
  force?: boolean;
  /** `ecomm grants`: print the statements instead of running them. */
  dryRun?: boolean;
}

/** A job's entry, `run` in jobs/<job>/index.ts: it prints what a person reads and returns the exit code. */
type JobEntry<Options> = (context: JobContext, options: Options, output: PrintLine) => Promise<number>;

/**
 * The entry of every job of the catalog, by the name the CLI gives it: a job in the catalog without an entry here,
 * or an entry for no job, does not compile.
 */
const JOB_ENTRIES = {
  generate: generator.run,
  extract: extract.run,
  'stream-ingest': streamIngest.run,
  validate: validate.run,
  load: load.run,
  reconcile: reconcile.run,
  transform: transform.run,
  quality: quality.run,
  run: pipeline.run,
  monitor: monitor.run,
  watchdog: watchdog.run,
  grants: grants.run,
  quarantine: quarantine.run,
  batches: batches.run,
  backfill: backfill.run,
  rebuild: rebuild.run,
} satisfies Record<JobName, JobEntry<never>>;

/** Lines a job prints for a person go to stdout; logs and errors go to stderr. */
const printToStdout: PrintLine = (line) => process.stdout.write(`${line}\n`);

const SETTING_FLAGS: [flag: string, variable: string][] = [
  ['--lake-url <url>', 'LAKE_URL'],
  ['--stream-url <url>', 'STREAM_URL'],
  ['--warehouse-url <url>', 'WAREHOUSE_URL'],
  ['--source-url <url>', 'SOURCE_URL'],
  ['--secrets-url <url>', 'SECRETS_URL'],
  ['--log-level <level>', 'LOG_LEVEL'],
];

export function buildProgram(
  runJob: (
    job: JobSpec & { name: JobName },
    options: JobOptions,
    settings: Record<string, string>,
  ) => Promise<void>,
) {
  const program = new Command('ecomm')
    .description(
      'Ecommerce data platform jobs. Settings come from environment variables; flags override them.',
    )
    .showHelpAfterError('(run `ecomm --help` for the list of jobs)')
    .exitOverride();
  for (const [flag, variable] of SETTING_FLAGS) program.option(flag, `overrides ${variable}`);
  for (const job of JOB_CATALOG) {
    const command = program.command(job.name).description(job.summary).exitOverride();
    addJobOptions(job.name, command);
    for (const [runnable, fixed] of toolCommands(job.name, command)) {
      runnable.action(async (options: JobOptions) => {
        const globals = program.opts<Record<string, string | undefined>>();
        const settings: Record<string, string> = {};
        for (const [flag, variable] of SETTING_FLAGS) {
          const key = camelCase(flag.split(' ')[0] ?? '');
          const value = globals[key];
          if (value !== undefined) settings[variable] = value;
        }
        await runJob(job, { ...options, ...fixed }, settings);
      });
    }
  }
  return program;
}

/**
 * The commands that run a job: the job's own, or, for a family of tools, one subcommand per tool with the options
 * that tell the job's entry which one ran.
 */
function toolCommands(job: string, command: Command): [Command, Partial<JobOptions>][] {
  if (job === 'quarantine') {
    const replay = command
      .command('replay')
      .description(
        're-validate the quarantined rows of one batch with the current contracts; promote those that pass',
      )
      .requiredOption('--batch <id>', 'batch id (ops.batches.batch_id)')
      .exitOverride();
    return [[replay, {}]];
  }
  if (job === 'batches') {
    const list = command
      .command('list')
      .description('list batches by status, the most recent first (default: failed)')
      .addOption(
        new Option('--status <status>', 'which batches')
          .choices(['failed', 'skipped', 'pending', 'loaded', 'all'])
          .default('failed'),
      )
      .exitOverride();
    const retry = command
      .command('retry')
      .description('put a failed batch back at the step that failed (after fixing its object), and run it')
      .requiredOption('--batch <id>', 'batch id (ops.batches.batch_id)')
      .exitOverride();
    const skip = command
      .command('skip')
      .description('take a failed or pending batch out of every queue for good; its rows never reach bronze')
      .requiredOption('--batch <id>', 'batch id (ops.batches.batch_id)')
      .requiredOption('--reason <text>', 'why: kept in the audit (ops.batch_actions)')
      .exitOverride();
    const reload = command
      .command('reload')
      .description(
        'load a loaded batch again from its staged object; its bronze rows are replaced, never doubled',
      )
      .requiredOption('--batch <id>', 'batch id (ops.batches.batch_id)')
      .requiredOption('--reason <text>', 'why: kept in the audit (ops.batch_actions)')
      .exitOverride();
    const gaps = command
      .command('gaps')
      .description(
        'list the retention gaps: events a topic deleted before the pipeline read them, open first',
      )
      .exitOverride();
    const acknowledgeGap = command
      .command('acknowledge-gap')
      .description(
        'close a retention gap once its events are resent or the loss is accepted; the quality gate then passes it',
      )
      .requiredOption('--gap <id>', 'the gap as `gaps` names it: <topic>:p<partition>:o<offset>')
      .requiredOption('--reason <text>', 'why: kept in the audit (ops.stream_gaps)')
      .exitOverride();
    return [
      [list, { action: 'list' }],
      [retry, { action: 'retry' }],
      [skip, { action: 'skip' }],
      [reload, { action: 'reload' }],
      [gaps, { action: 'gaps' }],
      [acknowledgeGap, { action: 'acknowledge-gap' }],
    ];
  }
  return [[command, {}]];
}

function addJobOptions(job: string, command: Command): void {
  if (job === 'generate' || job === 'run') {
    command
      .addOption(
        new Option('--seed <n>', 'random seed: the same seed gives the same data')
          .argParser(parseInteger)
          .default(42),
      )
      .addOption(
        new Option('--scale <x>', 'data volume multiplier (1 = ~5k orders)')
          .argParser(parsePositive)
          .default(1),
      )
      .addOption(
        new Option(
          '--as-of <date>',
          'last day (exclusive) of generated data, YYYY-MM-DD; default today',
        ).argParser(parseDate),
      );
  }
  if (job === 'generate')
    command
      .option('--replace', 'empty the source tables first')
      .addOption(
        new Option(
          '--crm-url <url>',
          'also seed this HubSpot portal (hubspot://…?tokenSecret=<name>) with contacts and companies; default CRM_SOURCE_URL',
        ).argParser(parseCrmUrl),
      )
      .addOption(
        new Option(
          '--history-url <url>',
          'also seed this Snowflake schema (snowflake://…?passwordSecret=<name>) with the 2 years of daily sales before the orders; default HISTORY_SOURCE_URL',
        ).argParser(parseHistoryUrl),
      );
  if (job === 'stream-ingest') {
    command
      .option(
        '--follow',
        'keep consuming as a service (health on --health-port) until SIGTERM; default: drain and exit',
      )
      .addOption(
        settingOption(
          '--health-port <port>',
          'port of /healthz, /readyz and /status with --follow',
          String(SERVICE_DEFAULTS.ECOMM_HEALTH_PORT),
        ).argParser(parsePort),
      );
  }
  if (job === 'run') {
    command
      .option('--demo', 'generate source data and events first when the source is empty')
      .option(
        '--resume',
        'resume the latest run, which must have failed or been abandoned, after its last completed step',
      );
  }
  if (job === 'run' || job === 'transform')
    command.option(
      '--full-refresh',
      'build the incremental models whole instead of applying what changed since their last build',
    );
  if (job === 'monitor') {
    command
      .addOption(
        settingOption(
          '--port <n>',
          'TCP port to serve the UI on (0 = any free port)',
          `${SERVICE_DEFAULTS.MONITOR_PORT}, env: MONITOR_PORT`,
        ).argParser(parsePort),
      )
      .addOption(
        settingOption(
          '--host <address>',
          'address to listen on (0.0.0.0 in a container)',
          `${JSON.stringify(SERVICE_DEFAULTS.MONITOR_HOST)}, env: MONITOR_HOST`,
        ),
      );
  }
  if (job === 'backfill') {
    // Plain strings: the job checks them all (a known table, real timestamps, a window in the past) with one message each.
    command
      .requiredOption('--source <table>', 'source table (customers, products, orders, order_items, fx_rates)')
      .requiredOption(
        '--from <timestamp>',
        'window start, inclusive: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] (UTC by default)',
      )
      .requiredOption('--to <timestamp>', 'window end, exclusive, not in the future');
  }
  if (job === 'grants')
    command.option('--dry-run', 'print the statements the sync would run (password verifiers left out)');
  if (job === 'rebuild')
    command.option(
      '--force',
      'rebuild into a warehouse that already holds batches or bronze rows, emptying them first',
    );
  if (job === 'transform' || job === 'quality') {
    command.addOption(
      new Option('--layer <layer>', 'which layer')
        .choices(job === 'quality' ? ['bronze', 'silver', 'gold', 'all'] : ['silver', 'gold', 'all'])
        .default('all'),
    );
  }
  if (job === 'transform') {
    command
      .addOption(
        new Option(
          '--select <models>',
          'build only these models: <layer>.<name> or a bare name, "+" adds what is downstream (e.g. silver.orders+); repeat or comma-separate',
        )
          .argParser(collectSelectors)
          .default([]),
      )
      .addOption(
        new Option('--exclude <models>', 'leave these models out (same syntax as --select)')
          .argParser(collectSelectors)
          .default([]),
      );
  }
}

/** Checks each selector of one --select/--exclude value against the model files, and adds them to the earlier ones. */
function collectSelectors(value: string, previous: string[]): string[] {
  const selectors = splitSelectors([value]);
  if (selectors.length === 0) throw new InvalidArgumentError('expected a model, e.g. silver.orders');
  const models = loadModels();
  for (const selector of selectors) {
    try {
      resolveSelector(models, selector);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  }
  return [...previous, ...selectors];
}

/**
 * An option whose default is a setting: the config resolves it when the job runs, so a bad value is named with
 * every other bad setting (exit 2); the help shows the default the way commander shows its own.
 */
function settingOption(flags: string, description: string, shownDefault: string): Option {
  return new Option(flags, `${description} (default: ${shownDefault})`);
}

function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return Number(value);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535)
    throw new InvalidArgumentError(`expected a TCP port (0-65535), got "${value}"`);
  return port;
}

function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0 || number > 1000)
    throw new InvalidArgumentError(`expected a number in (0, 1000], got "${value}"`);
  return number;
}

function parseDate(value: string): Date {
  const date = new Date(`${value}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(value) ||
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 10) !== value
  ) {
    throw new InvalidArgumentError(`expected a date YYYY-MM-DD, got "${value}"`);
  }
  return date;
}

function parseCrmUrl(value: string): string {
  try {
    parseHubSpotUrl(value, '--crm-url');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

function parseHistoryUrl(value: string): string {
  try {
    parseSnowflakeUrl('--history-url', value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

function camelCase(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Runs one job in a fresh context and turns every outcome into an exit code and one clear message. */
export async function runFromCli(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  // The stack of a failure is printed at debug and trace: the job's level, once its settings and flags are read.
  let logLevel: Config['LOG_LEVEL'] | undefined;
  const program = buildProgram(async (job, options, settings) => {
    const environment = { ...process.env, ...settings };
    const config = loadConfig(environment, {
      required: requiresExplicitSettings(environment) ? job.env : [],
    });
    logLevel = config.LOG_LEVEL;
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted) process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated);
      process.stderr.write(`ecomm: ${signal}: finishing the unit of work in hand, then stopping\n`);
      stop.abort(signal);
      // Every write is atomic (rename, multipart completion, transaction), so exiting mid-unit leaves nothing half-written.
      setTimeout(
        () => process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated),
        config.ECOMM_SHUTDOWN_GRACE_SECONDS * 1000,
      ).unref();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const context: JobContext = createJobContext(config, { signal: stop.signal });
    try {
      // Commander parsed only this job's flags, against their choices: they are what its entry's options hold.
      const entry = JOB_ENTRIES[job.name] as JobEntry<JobOptions>;
      // A batch job holds the warehouse's batch lease while it runs: it never overlaps another (jobs/ops/run-lease.ts).
      const runEntry = () =>
        job.runLease
          ? withRunLease(context, job.name, (leased) => entry(leased, options, printToStdout))
          : entry(context, options, printToStdout);
      // Every job run is one OpenLineage run (START, then COMPLETE or FAIL) under the CLI's run id.
      exitCode =
        // The monitor only reads; grants touches no data (and has no lake for the lineage events).
        job.name === 'monitor' || job.name === 'grants'
          ? await runEntry()
          : await withLineageRun(context, job.name, runEntry, (code) => code !== 0);
    } finally {
      await context.close();
    }
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return exitCodeFor(error, logLevel);
  }
}

function exitCodeFor(error: unknown, logLevel: Config['LOG_LEVEL'] | undefined): number {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
      ? EXIT.ok
      : EXIT.usage;
  }
  if (error instanceof RunLeaseHeldError) {
    say(`skipped: ${error.message}`);
    return EXIT.busy;
  }
  if (error instanceof JobStoppedError) {
    say(error.message);
    if (error.reason.startsWith(LEASE_LOST)) return EXIT.busy;
    return error.reason === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
  }
  if (
    error instanceof ConfigError ||
    error instanceof UnsupportedUrlError ||
    error instanceof SelectionError
  ) {
    say(error.message);
    return EXIT.usage;
  }
  say(`failed: ${(error as Error).message ?? String(error)}`);
  if (logLevel === 'debug' || logLevel === 'trace')
    process.stderr.write(`${redactSecrets(String((error as Error).stack))}\n`);
  return EXIT.failed;
}

/** The one line a failed job leaves on stderr, through the one redaction: drivers and SDKs may quote a secret. */
function say(message: string): void {
  process.stderr.write(`ecomm: ${redactSecrets(message)}\n`);
}
