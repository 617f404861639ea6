import { redactUrl } from '../../adapters/redact.ts';
import { schemeOf } from '../../adapters/url.ts';
import { openSqlDatabase } from '../../adapters/warehouse/index.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { startMonitor } from './server.ts';

export interface MonitorOptions {
  /** Default MONITOR_PORT; 0 is any free port. */
  port?: number;
  /** Default MONITOR_HOST. */
  host?: string;
}

/** `ecomm monitor`: serve the UI until SIGTERM or SIGINT, then close the server and the warehouse and exit 0. */
export async function run(context: JobContext, options: MonitorOptions, output: PrintLine): Promise<number> {
  // Not context.warehouse(): that creates missing ops and bronze tables, and the monitor's role may not (and the
  // monitor must not) write. The URL names the read-only role in production (docs/monitor.md).
  const warehouse = await openSqlDatabase('WAREHOUSE_URL', context.config.WAREHOUSE_URL, {
    secrets: context.secrets(),
  });
  try {
    const monitor = await startMonitor({
      warehouse,
      port: options.port ?? context.config.MONITOR_PORT,
      host: options.host ?? context.config.MONITOR_HOST,
      allowedHosts: context.config.MONITOR_ALLOWED_HOSTS,
      onError: (error) => context.log.error({ err: error }, 'monitor request failed'),
    });
    output(`monitor serving ${redactUrl(context.config.WAREHOUSE_URL)} read-only on ${monitor.url}`);
    if (schemeOf(context.config.WAREHOUSE_URL) === 'pglite') {
      output(
        'embedded warehouse: PGlite is single-process, so stop the monitor before running jobs on the same folder',
      );
    }
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await monitor.close();
    output('monitor stopped');
    return 0;
  } finally {
    await warehouse.close();
  }
}
