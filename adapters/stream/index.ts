import { pickFactory } from '../url.ts';
import type { EventStream } from './event-stream.ts';
import { openMemoryStream } from './memory.ts';

export type * from './event-stream.ts';

const STREAM_FACTORIES: Record<'memory', (url: string) => EventStream> = {
  memory: openMemoryStream,
};

/** The event stream named by STREAM_URL. */
export function openEventStream(url: string): EventStream {
  return pickFactory('STREAM_URL', url, STREAM_FACTORIES)(url);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const STREAM_SCHEMES = Object.keys(STREAM_FACTORIES);
