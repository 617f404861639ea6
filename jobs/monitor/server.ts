/**
 * `ecomm monitor`: the monitoring UI, served with node:http. Pages are rendered on the server from a handful of
 * bounded, read-only queries (queries.ts); each also answers as JSON under /api/… . Nothing is cached: every request
 * reads the warehouse, and the page refreshes itself every `refreshSeconds` (30 s by default, at most 60 s).
 * Response headers carry `Server-Timing` (database and render time) for the benchmark and for curious operators.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redactSecrets, redactUrl } from '../../adapters/redact.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { loadLiveKpis } from '../kpis/realtime.ts';
import { loadModels } from '../models/models.ts';
import { allowedHostsFor, hostOfHeader } from './allowed-hosts.ts';
import { ASSETS } from './assets.ts';
import { loadHeldBatches } from './batch-queries.ts';
import { type Html, html } from './html.ts';
import { buildLineage, type LineageGraph } from './lineage-graph.ts';
import { renderLineagePage } from './lineage-view.ts';
import { loadReconciliation, renderLiveSection } from './live-view.ts';
import { maskRecord, maskText } from './mask.ts';
import { renderOverview } from './overview-view.ts';
import { type PagePath, renderPage } from './page.ts';
import { renderQualityPage } from './quality-view.ts';
import { loadQuarantine, type Quarantine } from './quarantine-queries.ts';
import { renderQuarantinePage } from './quarantine-view.ts';
import { loadFreshness, loadJobStatuses, loadKpis, type Section, section } from './queries.ts';
import { readOnlyDatabase } from './readonly.ts';
import { loadOperatorActions, loadQuality, loadRunHistory, RUN_HISTORY_LIMIT } from './run-queries.ts';
import { renderRunsPage } from './runs-view.ts';

export interface MonitorOptions {
  /** The warehouse; the monitor wraps it so nothing can be written through it (readonly.ts). */
  warehouse: SqlDatabase;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /**
   * Host names the monitor answers to besides the loopback names and the bound address (MONITOR_ALLOWED_HOSTS):
   * a request naming any other host gets 421, so a rebound DNS name cannot read the pages or /api/*.
   */
  allowedHosts?: readonly string[];
  /** Seconds between in-page refreshes (1–60; default 30). */
  refreshSeconds?: number;
  /** Seconds between refreshes of the live tile rows (1–60; default 5): they read two small realtime tables. */
  liveRefreshSeconds?: number;
  /** The clock freshness is measured against; tests pin it. */
  now?: () => Date;
  /** Where request errors are reported (default: stderr). */
  onError?: (error: Error) => void;
}

export interface RunningMonitor {
  url: string;
  close(): Promise<void>;
}

interface Rendered {
  status: number;
  /** HTML page, or the JSON value for /api/… */
  html?: Html;
  json?: unknown;
  dbMs: number;
}

type Route = (request: URL) => Promise<Rendered>;

const SECURITY_HEADERS = {
  // Same-origin everything: the page can neither load nor send anything elsewhere, and inline script/style is
  // refused, so even an escaping bug could not run injected code.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export async function startMonitor(options: MonitorOptions): Promise<RunningMonitor> {
  const db = readOnlyDatabase(options.warehouse);
  const now = options.now ?? (() => new Date());
  const refreshSeconds = Math.max(1, Math.min(60, Math.round(options.refreshSeconds ?? 30)));
  const liveRefreshSeconds = Math.max(1, Math.min(60, Math.round(options.liveRefreshSeconds ?? 5)));
  const warehouse = redactUrl(options.warehouse.url);
  const onError =
    options.onError ??
    ((error: Error) =>
      process.stderr.write(`ecomm monitor: ${redactSecrets(error.stack ?? error.message)}\n`));
  // Lineage is a property of the code (contracts + sql/ models), not of the data: derive it once.
  let lineage: Section<LineageGraph>;
  try {
    lineage = { ok: true, data: buildLineage(loadModels()) };
  } catch (error) {
    lineage = { ok: false, error: (error as Error).message };
  }

  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    const value = await work();
    return [value, performance.now() - started];
  };

  const liveData = (at: Date) =>
    section(db, async (tx) => ({
      ...(await loadLiveKpis(tx, at)),
      reconciliation: await loadReconciliation(tx),
    }));
  const overviewData = async () => {
    const at = now();
    const kpis = await section(db, loadKpis);
    const [jobs, freshness, heldBatches, live] = await Promise.all([
      section(db, loadJobStatuses),
      section(db, (tx) => loadFreshness(tx, at, kpis.ok ? kpis.data.goldBuiltAt : null)),
      section(db, loadHeldBatches),
      liveData(at),
    ]);
    return { at, data: { kpis, jobs, freshness, heldBatches, live } };
  };
  const runsData = (request: URL) => {
    const limit = Number(request.searchParams.get('limit') ?? RUN_HISTORY_LIMIT);
    return section(db, (tx) => loadRunHistory(tx, Number.isFinite(limit) ? limit : RUN_HISTORY_LIMIT));
  };
  const quarantineData = (request: URL) => {
    const source = request.searchParams.get('source') ?? undefined;
    const reason = request.searchParams.get('reason') ?? undefined;
    const known = source !== undefined && DATA_CONTRACTS.some((contract) => contract.source === source);
    return section(db, (tx) =>
      loadQuarantine(tx, { source: known ? source : undefined, reason: reason?.slice(0, 4000) || undefined }),
    );
  };
  const page = (path: PagePath, at: Date, content: Html, dbMs: number): Rendered => ({
    status: 200,
    html: renderPage({ path, generatedAt: at, refreshSeconds, warehouse }, content),
    dbMs,
  });

  const routes: Record<string, Route> = {
    '/': async () => {
      const [{ at, data }, dbMs] = await timed(overviewData);
      return page('/', at, renderOverview(data, at, liveRefreshSeconds), dbMs);
    },
    // The live section alone, for the page's frequent in-place refresh (assets/monitor.js).
    '/live': async () => {
      const at = now();
      const [live, dbMs] = await timed(() => liveData(at));
      return { status: 200, html: renderLiveSection(live, at, liveRefreshSeconds), dbMs };
    },
    '/runs': async (request) => {
      const [[runs, actions], dbMs] = await timed(() =>
        Promise.all([runsData(request), section(db, (tx) => loadOperatorActions(tx))]),
      );
      const at = now();
      return page('/runs', at, renderRunsPage(runs, actions, at), dbMs);
    },
    '/quality': async () => {
      const [quality, dbMs] = await timed(() => section(db, loadQuality));
      return page('/quality', now(), renderQualityPage(quality), dbMs);
    },
    '/quarantine': async (request) => {
      const [quarantine, dbMs] = await timed(() => quarantineData(request));
      const at = now();
      return page('/quarantine', at, renderQuarantinePage(quarantine, at), dbMs);
    },
    '/lineage': async () => page('/lineage', now(), renderLineagePage(lineage), 0),
    '/api/overview': async () => {
      const [{ at, data }, dbMs] = await timed(overviewData);
      return { status: 200, json: { generatedAt: at, ...data }, dbMs };
    },
    '/api/live': async () => {
      const at = now();
      const [live, dbMs] = await timed(() => liveData(at));
      return { status: 200, json: { generatedAt: at, live }, dbMs };
    },
    '/api/runs': async (request) => {
      const [runs, dbMs] = await timed(() => runsData(request));
      return { status: 200, json: { generatedAt: now(), runs }, dbMs };
    },
    '/api/operations': async () => {
      const [actions, dbMs] = await timed(() => section(db, (tx) => loadOperatorActions(tx)));
      return { status: 200, json: { generatedAt: now(), actions }, dbMs };
    },
    '/api/quality': async () => {
      const [quality, dbMs] = await timed(() => section(db, loadQuality));
      return { status: 200, json: { generatedAt: now(), quality }, dbMs };
    },
    '/api/quarantine': async (request) => {
      const [quarantine, dbMs] = await timed(() => quarantineData(request));
      return { status: 200, json: { generatedAt: now(), quarantine: maskedQuarantine(quarantine) }, dbMs };
    },
    '/api/lineage': async () => ({ status: 200, json: { lineage }, dbMs: 0 }),
    '/healthz': async () => {
      const [result, dbMs] = await timed(() => section(db, (tx) => tx.query('select 1 as ok')));
      return result.ok
        ? { status: 200, json: { status: 'ok' }, dbMs }
        : { status: 503, json: { status: 'unavailable', error: result.error }, dbMs };
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(request.url ?? '/', 'http://monitor.local');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain; charset=utf-8', 'read-only monitor: GET only\n', {
        allow: 'GET, HEAD',
      });
      return;
    }
    const asset = ASSETS[url.pathname];
    if (asset) {
      send(response, 200, asset.contentType, asset.body, { 'cache-control': 'public, max-age=300' });
      return;
    }
    if (url.pathname === '/favicon.ico') {
      send(response, 204, 'image/x-icon', '');
      return;
    }
    const route = routes[url.pathname];
    if (!route) {
      send(response, 404, 'text/html; charset=utf-8', notFoundPage(url.pathname));
      return;
    }
    const rendered = await route(url);
    const body = rendered.html ? rendered.html.value : `${JSON.stringify(rendered.json, null, 2)}\n`;
    const totalMs = performance.now() - started;
    send(
      response,
      rendered.status,
      rendered.html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      body,
      {
        'cache-control': 'no-store',
        'server-timing': `db;dur=${rendered.dbMs.toFixed(1)}, render;dur=${(totalMs - rendered.dbMs).toFixed(1)}, total;dur=${totalMs.toFixed(1)}`,
      },
      request.method === 'HEAD',
    );
  }

  const host = options.host ?? '127.0.0.1';
  const allowedHosts = allowedHostsFor(host, options.allowedHosts);
  const server = createServer((request, response) => {
    if (!hostAllowed(request, allowedHosts)) {
      refuseHost(request, response, allowedHosts);
      return;
    }
    handle(request, response).catch((error: Error) => {
      onError(error);
      if (!response.headersSent)
        send(response, 500, 'text/plain; charset=utf-8', 'monitor error: see the server log\n');
      else response.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The Host header names a host the monitor answers to. /healthz is exempt: the clouds' probes address the
 * replica by its IP, and it tells only whether the warehouse answers.
 */
function hostAllowed(request: IncomingMessage, allowed: Set<string>): boolean {
  if ((request.url ?? '').split('?')[0] === '/healthz') return true;
  const host = hostOfHeader(request.headers.host);
  return host !== undefined && allowed.has(host);
}

/** 421 Misdirected Request: this server does not answer for that name; the message says which names it does. */
function refuseHost(request: IncomingMessage, response: ServerResponse, allowed: Set<string>): void {
  const asked = JSON.stringify((request.headers.host ?? '(none)').slice(0, 255));
  send(
    response,
    421,
    'text/plain; charset=utf-8',
    `ecomm monitor: Host ${asked} is not a name this monitor answers to (${[...allowed].join(', ')}); ` +
      'add it to MONITOR_ALLOWED_HOSTS if it should be\n',
  );
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
  headOnly = false,
): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  response.end(headOnly ? undefined : body);
}

function notFoundPage(path: string): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found · ecomm monitor</title><link rel="stylesheet" href="/assets/monitor.css"></head><body><main><section class="panel"><h2>Not found</h2><p><code>${path}</code> is not a monitor page. <a href="/">Back to the overview</a>.</p></section></main></body></html>`
    .value;
}

/** The JSON twin of the quarantine page carries masked records only, exactly as the page shows them. */
function maskedQuarantine(section: Section<Quarantine>): unknown {
  if (!section.ok) return section;
  return {
    ok: true,
    data: {
      ...section.data,
      samples: section.data.samples.map((sample) => ({
        ...sample,
        reasons: maskText(sample.reasons),
        record: maskRecord(sample.source, sample.record),
      })),
    },
  };
}
