/** A validation thread (see threads.ts): one raw batch in, its outcome or its classified failure out. */
import { parentPort } from 'node:worker_threads';
import { openObjectStore } from '../../adapters/storage/index.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { classifyBatchError } from '../ops/batch-errors.ts';
import { openRawRecords } from './raw-records.ts';
import { validateRecords } from './records.ts';
import type { ThreadReply, ThreadRequest } from './threads.ts';

const port = parentPort;
if (!port) throw new Error('validate-thread.ts runs as a worker thread');

const lakes = new Map<string, ObjectStore>();

port.on('message', async (request: ThreadRequest) => {
  let reply: ThreadReply;
  try {
    const lake = lakes.get(request.lakeUrl) ?? openObjectStore(request.lakeUrl);
    lakes.set(request.lakeUrl, lake);
    const contract = contractFor(request.source);
    const outcome = await validateRecords(
      lake,
      contract,
      request.target,
      await openRawRecords(lake, request.target.rawKey, contract),
      {
        check: request.check,
        piiHashKey: request.piiHashKey,
        replacesQuarantine: request.replacesQuarantine,
      },
    );
    reply = { id: request.id, outcome: { ...outcome, reasons: [...outcome.reasons] } };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    reply = {
      id: request.id,
      failure: {
        kind: classifyBatchError(error),
        name: (error as Error)?.name ?? 'Error',
        message: (error as Error)?.message ?? String(error),
        code: typeof code === 'string' ? code : undefined,
      },
    };
  }
  port.postMessage(reply);
});
