/** `ecomm monitor`: serve the UI until SIGTERM or SIGINT, then close the server and the warehouse and exit 0. */
import { redactUrl, schemeOf } from '../../adapters/url.ts';
import { openSqlDatabase } from '../../adapters/warehouse/index.ts';
import type { JobContext } from '../context.ts';
import { startMonitor } from './server.ts';

export interface ServeOptions {
  port: number;
  host: string;
}

export async function serveMonitor(
  context: JobContext,
  options: ServeOptions,
  print: (line: string) => void,
): Promise<number> {
  // Not context.warehouse(): that creates missing ops and bronze tables, and the monitor's role may not (and the
  // monitor must not) write. The URL names the read-only role in production (docs/monitor.md).
  const warehouse = await openSqlDatabase('WAREHOUSE_URL', context.config.WAREHOUSE_URL, {
    secrets: context.secrets(),
  });
  try {
    const monitor = await startMonitor({
      warehouse,
      port: options.port,
      host: options.host,
      onError: (error) => context.log.error({ err: error }, 'monitor request failed'),
    });
    print(`monitor serving ${redactUrl(context.config.WAREHOUSE_URL)} read-only on ${monitor.url}`);
    if (schemeOf(context.config.WAREHOUSE_URL) === 'pglite') {
      print(
        'embedded warehouse: PGlite is single-process, so stop the monitor before running jobs on the same folder',
      );
    }
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await monitor.close();
    print('monitor stopped');
    return 0;
  } finally {
    await warehouse.close();
  }
}
