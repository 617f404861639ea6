import { pickFactory } from '../url.ts';
import type { EventStream } from './event-stream.ts';
import { openKafkaStream } from './kafka.ts';
import { openMemoryStream } from './memory.ts';

export type * from './event-stream.ts';

const STREAM_FACTORIES: Record<'memory' | 'kafka', (url: string) => EventStream> = {
  memory: openMemoryStream,
  kafka: (url) => openKafkaStream(url),
};

/** The event stream named by STREAM_URL. */
export function openEventStream(url: string): EventStream {
  return pickFactory('STREAM_URL', url, STREAM_FACTORIES)(url);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const STREAM_SCHEMES = Object.keys(STREAM_FACTORIES);
