/** extract's lineage: one step per source table, the table into its raw/ folder (`extract.<table>`). */
import type { JobContext } from '../context.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { lakeZoneDataset, sourceDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import { type InputDataset, schemaFacet } from '../lineage/openlineage.ts';

/** extract: one source table into raw/. */
export async function extractLineage(
  context: JobContext,
  table: SourceTableSpec,
  startedAt: Date,
  result: { rows: number } | null,
  error?: unknown,
): Promise<void> {
  const source: InputDataset = {
    ...sourceDataset(context, table.name),
    facets: {
      schema: schemaFacet(table.columns.map((column) => ({ name: column.name, type: column.type }))),
    },
  };
  await lineageOf(context).step({
    job: `extract.${table.name}`,
    startedAt,
    finishedAt: context.now(),
    inputs: [source],
    outputs: [written(lakeZoneDataset(context, 'raw', table.name), result?.rows ?? 0)],
    error,
  });
}
