// Test support for the cloud store tests: an HTTP proxy in front of a real test server (moto, Azurite) that can
// answer or drop chosen requests, to show that transient failures are retried and permanent ones are not.
import { createServer, request as forward, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with one request: forward it (undefined), drop the connection, or answer it with a fault. */
export type FaultDecision = undefined | 'drop' | { status: number; body?: string };

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, plus the target's path when it has one. */
  url: string;
  /** Every request seen, in order: method and path with query. */
  requests: string[];
  /** How many requests were answered with a fault or dropped. */
  faults: number;
  close(): Promise<void>;
}

/** Starts a proxy to target (an http:// URL, or undefined to forward nothing) on a free loopback port. */
export async function startFaultProxy(
  target: string | undefined,
  decide: (request: IncomingMessage, index: number) => FaultDecision,
): Promise<FaultProxy> {
  const upstream = target === undefined ? undefined : new URL(target);
  const proxy: FaultProxy = { url: '', requests: [], faults: 0, close: async () => {} };
  const server = createServer((incoming, outgoing) => {
    const index = proxy.requests.push(`${incoming.method} ${incoming.url}`) - 1;
    const decision = decide(incoming, index) ?? (upstream ? undefined : 'drop');
    if (decision === 'drop') {
      proxy.faults += 1;
      incoming.socket.destroy();
      return;
    }
    if (decision !== undefined) {
      proxy.faults += 1;
      // Read the request body first so the client sees the answer, not a reset mid-upload.
      incoming.resume();
      incoming.on('end', () => {
        outgoing.writeHead(decision.status, { 'content-type': 'application/xml' });
        outgoing.end(decision.body ?? '');
      });
      return;
    }
    const upstreamUrl = upstream as URL;
    const relay = forward(
      {
        host: upstreamUrl.hostname,
        port: upstreamUrl.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    relay.on('error', () => outgoing.destroy());
    incoming.pipe(relay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  proxy.url = `http://127.0.0.1:${port}${upstream && upstream.pathname !== '/' ? upstream.pathname : ''}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
