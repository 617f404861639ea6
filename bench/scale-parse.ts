/**
 * The validate step's limit in scale.bench.ts: a bare parse of the raw objects a `validate` run read, with no
 * contract, no staging and no ledger. Run as its own process (under GNU time) so its wall time, CPU and peak RSS
 * compare with `ecomm validate`'s:
 *
 *   node bench/scale-parse.ts <threads> <list.json>
 *
 * <list.json> holds the raw files' paths. CSV objects go through csv-parse with the options validate reads them
 * with (an unquoted empty cell is NULL, rows of any width); NDJSON objects (`.zst` and `.gz` decompressed by their
 * extension, as validate does) are split into lines and each line's envelope parsed with JSON.parse, then the event
 * it carries (a JSON text inside the envelope) parsed too: both are what any reader of the event's fields must do.
 * With <threads> above 1 the files are shared among that many worker threads, one file at a time each, as validate
 * shares batches among its threads. Prints one JSON line: {"rows": <records parsed>, "files": <n>}.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { parse } from 'csv-parse';
import { DECOMPRESSED_CHUNK_BYTES } from '../jobs/lake/raw-batch.ts';

/** The file's bytes, decompressed by its extension as validate's openRawObject does. */
function openFile(path: string): Readable {
  const body = createReadStream(path);
  const options = { chunkSize: DECOMPRESSED_CHUNK_BYTES };
  if (path.endsWith('.zst')) return body.pipe(createZstdDecompress(options));
  if (path.endsWith('.gz')) return body.pipe(createGunzip(options));
  return body;
}

/** Records in one raw file: CSV rows after the header, or NDJSON lines. */
export async function parseFile(path: string): Promise<number> {
  const raw = openFile(path);
  let rows = 0;
  if (/\.csv$/.test(path)) {
    const parser = raw.pipe(
      parse({
        cast: (value, context) => (value === '' && !context.quoting ? null : value),
        relax_column_count: true,
      }),
    );
    for await (const _cells of parser) rows += 1;
    return Math.max(0, rows - 1);
  }
  for await (const line of createInterface({ input: raw, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line === '') continue;
    const envelope = JSON.parse(line) as { value?: string };
    if (envelope.value !== undefined) {
      try {
        JSON.parse(envelope.value);
      } catch {
        // A malformed event is a record too (validate quarantines it).
      }
    }
    rows += 1;
  }
  return rows;
}

async function parseAll(files: string[], threads: number): Promise<number> {
  if (threads <= 1 || files.length <= 1) {
    let rows = 0;
    for (const file of files) rows += await parseFile(file);
    return rows;
  }
  const queue = [...files];
  let rows = 0;
  const lane = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url));
      const next = () => {
        const file = queue.shift();
        if (file === undefined) {
          void worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage(file);
      };
      worker.on('message', (parsed: number) => {
        rows += parsed;
        next();
      });
      worker.on('error', reject);
      next();
    });
  await Promise.all(Array.from({ length: Math.min(threads, files.length) }, lane));
  return rows;
}

if (!isMainThread) {
  parentPort?.on('message', (file: string) => {
    void parseFile(file).then((rows) => parentPort?.postMessage(rows));
  });
} else if (import.meta.main) {
  const threads = Number(process.argv[2] ?? '1');
  const files = JSON.parse(readFileSync(process.argv[3] ?? '', 'utf8')) as string[];
  const rows = await parseAll(files, threads);
  process.stdout.write(`${JSON.stringify({ rows, files: files.length })}\n`);
}
