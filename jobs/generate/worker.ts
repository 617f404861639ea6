/** The worker thread of `ecomm generate` (see worker-host.ts): generates with its own job context, replies once. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config.ts';
import { createJobContext } from '../context.ts';
import { generate } from './generate.ts';
import type { GenerateWorkerData, GenerateWorkerReply } from './worker-host.ts';

const port = parentPort;
if (!port) throw new Error('jobs/generate/worker.ts runs as a worker thread');
const data = workerData as GenerateWorkerData;
const context = createJobContext(loadConfig(data.env), { runId: data.runId });
const reply = (message: GenerateWorkerReply) => port.postMessage(message);
try {
  reply({
    type: 'done',
    result: await generate({ db: await context.source(), stream: context.stream(), ...data.job }),
  });
} catch (error) {
  reply({ type: 'error', message: (error as Error).message });
} finally {
  await context.close();
}
