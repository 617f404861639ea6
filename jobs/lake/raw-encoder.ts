/**
 * Builds raw objects' bytes (NDJSON envelopes, zstd) in a worker thread. On the consumer's thread this was most of
 * stage 1's work per event besides decoding fetches; in a worker it runs on the other core while the consumer
 * decodes the next fetch. A batch moves there as columns in one ArrayBuffer (transferred, not copied) and the
 * buffer comes back with the compressed bytes, to hold the next batch: filling fresh memory (page faults) cost
 * ten times the copy into memory already in use.
 */
import { Worker } from 'node:worker_threads';
import type { MessageColumns } from '../../adapters/stream/event-stream.ts';
import { WORKER_RESOURCE_LIMITS } from '../memory-limits.ts';

export interface RawEncoder {
  /** Where a batch's columns are laid out for encode (a recycled buffer when one is big enough). */
  allocate(bytes: number): ArrayBuffer;
  /** The zstd NDJSON bytes of one partition's micro-batch; the columns' buffer moves to the thread (detached). */
  encode(topic: string, partition: number, columns: MessageColumns): Promise<Buffer>;
  close(): Promise<void>;
}

export interface EncoderRequest {
  id: number;
  topic: string;
  partition: number;
  columns: MessageColumns;
}

export type EncoderReply =
  | { id: number; bytes: Uint8Array; spare: ArrayBuffer }
  | { id: number; error: string };

/** Recycled column buffers kept (each about one micro-batch: STREAM_BATCH_MAX_BYTES plus a little). */
const SPARE_BUFFERS = 4;
const MIN_BUFFER_BYTES = 1 << 20;

export function startRawEncoder(): RawEncoder {
  const pending = new Map<number, { resolve: (bytes: Buffer) => void; reject: (error: Error) => void }>();
  const spares: ArrayBuffer[] = [];
  let nextId = 0;
  let worker: Worker | undefined;
  let broken: Error | undefined;

  const failAll = (error: Error) => {
    broken = error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  const start = () => {
    const started = new Worker(new URL('./raw-encoder-worker.ts', import.meta.url), {
      resourceLimits: WORKER_RESOURCE_LIMITS,
    });
    started.on('message', (reply: EncoderReply) => {
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      if ('spare' in reply && spares.length < SPARE_BUFFERS) spares.push(reply.spare);
      if (!waiting) return;
      if ('error' in reply) waiting.reject(new Error(`raw encoder: ${reply.error}`));
      else waiting.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    });
    started.on('error', (error) => failAll(new Error(`raw encoder thread failed: ${error.message}`)));
    started.on('exit', (code) => {
      if (pending.size > 0) failAll(new Error(`raw encoder thread exited (${code}) with batches in hand`));
      worker = undefined;
    });
    // Only pending encodes keep the process alive (see encode).
    started.unref();
    return started;
  };

  return {
    allocate(bytes) {
      const fit = spares.findIndex((spare) => spare.byteLength >= bytes);
      if (fit >= 0) return spares.splice(fit, 1)[0] as ArrayBuffer;
      // Room to grow: the next batches are usually about as big.
      return new ArrayBuffer(Math.max(MIN_BUFFER_BYTES, 2 ** Math.ceil(Math.log2(bytes))));
    },
    encode(topic, partition, columns) {
      if (broken) return Promise.reject(broken);
      worker ??= start();
      const id = nextId++;
      const target = worker;
      const request: EncoderRequest = { id, topic, partition, columns };
      const buffers = [
        ...new Set(Object.values(columns).map((array: Uint8Array) => array.buffer as ArrayBuffer)),
      ];
      return new Promise<Buffer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        target.ref();
        target.postMessage(request, buffers);
      }).finally(() => {
        if (pending.size === 0) worker?.unref();
      });
    },
    async close() {
      const stopping = worker;
      worker = undefined;
      spares.length = 0;
      if (stopping) await stopping.terminate();
    },
  };
}
