/** The raw encoder's thread (see raw-encoder.ts): columns in, zstd NDJSON bytes and the columns' buffer out. */
import { parentPort } from 'node:worker_threads';
import { encodeRawBatch } from './raw-batch.ts';
import type { EncoderReply, EncoderRequest } from './raw-encoder.ts';

const port = parentPort;
if (!port) throw new Error('raw-encoder-worker.ts runs as a worker thread');

port.on('message', ({ id, topic, partition, columns }: EncoderRequest) => {
  try {
    const encoded = encodeRawBatch(topic, partition, columns);
    // Transfer only a buffer the bytes own alone (zlib may hand back a view into a larger one).
    const bytes =
      encoded.byteOffset === 0 && encoded.byteLength === encoded.buffer.byteLength
        ? encoded
        : Uint8Array.prototype.slice.call(encoded);
    const spare = columns.values.buffer as ArrayBuffer;
    const reply: EncoderReply = { id, bytes, spare };
    port.postMessage(reply, [bytes.buffer as ArrayBuffer, spare]);
  } catch (error) {
    const reply: EncoderReply = { id, error: (error as Error).message };
    port.postMessage(reply);
  }
});
