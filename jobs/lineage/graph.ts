import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { datasetKey } from './naming.ts';
import type { DatasetRef, RunEvent } from './openlineage.ts';
import { lineagePrefix } from './sink.ts';

/** Reads the events the lake sink wrote, in emission order (one run's, or all). */
export async function readLineageEvents(lake: ObjectStore, runId?: string): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const object of lake.list(lineagePrefix(runId))) {
    if (!object.key.endsWith('.json')) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of await lake.get(object.key)) chunks.push(Buffer.from(chunk as Uint8Array));
    events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RunEvent);
  }
  return events;
}

/** One hop: a job that read `from` and wrote `to`. */
export interface LineageEdge {
  from: string;
  to: string;
  job: string;
}

/** Dataset-to-dataset edges of the completed runs among the events. */
export function lineageEdges(events: RunEvent[]): LineageEdge[] {
  const edges = new Map<string, LineageEdge>();
  for (const event of events) {
    if (event.eventType !== 'COMPLETE') continue;
    for (const input of event.inputs) {
      for (const output of event.outputs) {
        const edge = { from: datasetKey(input), to: datasetKey(output), job: event.job.name };
        edges.set(`${edge.from}>${edge.job}>${edge.to}`, edge);
      }
    }
  }
  return [...edges.values()];
}

/**
 * The shortest chain of hops from one dataset to another (breadth first), or null when the lineage does not
 * connect them.
 */
export function lineagePath(events: RunEvent[], from: DatasetRef, to: DatasetRef): LineageEdge[] | null {
  const edges = lineageEdges(events);
  const start = datasetKey(from);
  const goal = datasetKey(to);
  const cameFrom = new Map<string, LineageEdge | null>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const current = queue.shift() as string;
    if (current === goal) {
      const path: LineageEdge[] = [];
      for (let edge = cameFrom.get(goal); edge; edge = cameFrom.get(edge.from)) path.unshift(edge);
      return path;
    }
    for (const edge of edges) {
      if (edge.from !== current || cameFrom.has(edge.to)) continue;
      cameFrom.set(edge.to, edge);
      queue.push(edge.to);
    }
  }
  return null;
}
