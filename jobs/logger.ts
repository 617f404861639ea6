import { type DestinationStream, type Logger, pino } from 'pino';
import { redactSecrets } from '../adapters/redact.ts';

/**
 * The jobs' logger: JSON lines on stderr (or `destination`), each passed through the one redaction before it is
 * written, so a URL or a driver's message logged with an error never carries a password, key or token.
 */
export function jobLogger(level: string, destination: DestinationStream = pino.destination(2)): Logger {
  return pino({ level, hooks: { streamWrite: redactSecrets } }, destination);
}
