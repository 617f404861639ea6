/**
 * A loopback HTTP receiver for tests (node:http on 127.0.0.1, a free port): records every request and answers
 * with the status the test chooses, standing in for a Slack webhook, PagerDuty's Events API or Marquez.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** What the receiver answered. */
  status: number;
  /** Epoch ms when the request had arrived whole. */
  receivedAt: number;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: ReceivedRequest[];
  /** Chooses the answer of each later request (default 200; 202 for paths containing "enqueue"). */
  respond(status: (request: { method: string; path: string; body: unknown }) => number): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let choose: (request: { method: string; path: string; body: unknown }) => number = (request) =>
    request.path.includes('enqueue') ? 202 : 200;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      const received = { method: request.method ?? '', path: request.url ?? '', body };
      const status = choose(received);
      requests.push({ ...received, headers: request.headers, status, receivedAt: Date.now() });
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status < 300 ? 'ok' : 'receiver says no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond(status) {
      choose = status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
