/** extract's lineage: one step per source stream, the stream into its raw/ folder (`extract.<stream>`). */
import type { JobContext } from '../context.ts';
import { lakeZoneDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import { tableDataset } from '../lineage/naming.ts';
import { type InputDataset, schemaFacet } from '../lineage/openlineage.ts';
import type { ConfiguredSource, ExtractStream } from './sources.ts';

/** extract: one source stream into raw/. */
export async function extractLineage(
  context: JobContext,
  source: ConfiguredSource,
  stream: ExtractStream,
  startedAt: Date,
  result: { rows: number } | null,
  error?: unknown,
): Promise<void> {
  // The OLTP source's naming, `<database>.public.<table>`; a source of another kind says here how it names its own.
  const input: InputDataset = {
    ...tableDataset(source.url, `public.${stream.remoteName}`),
    facets: { schema: schemaFacet(stream.schema) },
  };
  await lineageOf(context).step({
    job: `extract.${stream.name}`,
    startedAt,
    finishedAt: context.now(),
    inputs: [input],
    outputs: [written(lakeZoneDataset(context, 'raw', stream.name), result?.rows ?? 0)],
    error,
  });
}
