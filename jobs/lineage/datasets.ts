/**
 * The platform's datasets as its lineage names them, from the job's settings: warehouse and source tables, event
 * topics and lake zones (naming.ts holds the conventions), and the facets the steps attach to them (rows written,
 * a warehouse table's columns). Each job's lineage steps (jobs/<job>/lineage.ts) are built from these.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { lakeDataset, tableDataset, topicDataset } from './naming.ts';
import {
  type DatasetRef,
  type OutputDataset,
  outputStatisticsFacet,
  type SchemaField,
  schemaFacet,
} from './openlineage.ts';

/** A warehouse table (`gold.fact_orders`) as a dataset. */
export function warehouseDataset(context: JobContext, schemaTable: string): DatasetRef {
  return tableDataset(context.config.WAREHOUSE_URL, schemaTable);
}

/** A source table (`orders`) as a dataset: `<db>.public.orders`. */
export function sourceDataset(context: JobContext, table: string): DatasetRef {
  return tableDataset(context.config.SOURCE_URL, `public.${table}`);
}

/** An event topic (logical name, `clickstream`) as a dataset: its physical name, prefix included. */
export function topicDatasetOf(context: JobContext, topic: string): DatasetRef {
  return topicDataset(context.config.STREAM_URL, `${context.config.STREAM_TOPIC_PREFIX}${topic}`);
}

export function lakeZoneDataset(context: JobContext, zone: string, source: string): DatasetRef {
  return lakeDataset(context.lake(), zone, source);
}

/** Columns of a warehouse table as schema fields, from information_schema (empty when it does not exist). */
export async function warehouseSchemaFields(db: SqlDatabase, schemaTable: string): Promise<SchemaField[]> {
  const [schema, table] = schemaTable.split('.');
  const rows = await db.query<{ column_name: string; data_type: string }>(
    `select cast(column_name as varchar(128)) as column_name, cast(data_type as varchar(128)) as data_type
     from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [schema ?? '', table ?? ''],
  );
  return rows.map((row) => ({ name: row.column_name, type: row.data_type }));
}

/** The dataset with its schema facet, when the table exists and its columns can be read. */
export async function withSchema(
  db: SqlDatabase,
  dataset: DatasetRef,
  schemaTable: string,
): Promise<{ namespace: string; name: string; facets?: { schema: ReturnType<typeof schemaFacet> } }> {
  try {
    const fields = await warehouseSchemaFields(db, schemaTable);
    return fields.length > 0 ? { ...dataset, facets: { schema: schemaFacet(fields) } } : dataset;
  } catch {
    return dataset;
  }
}

/** The dataset as an output, with how many rows the step wrote to it. */
export function written<T extends DatasetRef>(dataset: T, rows: number): T & OutputDataset {
  return { ...dataset, outputFacets: { outputStatistics: outputStatisticsFacet(rows) } };
}
