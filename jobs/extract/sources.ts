/**
 * The sources extract reads: each a URL setting and the streams jobs/contracts declares for it. SOURCE_URL, the OLTP
 * database, is always there; one more source is an optional `<NAME>_SOURCE_URL` setting (config.ts:
 * `optionalSourceUrl()`), extracted when it is set: one entry below, e.g.
 * `...(config.CRM_SOURCE_URL ? [{ setting: 'CRM_SOURCE_URL', url: config.CRM_SOURCE_URL, streams: CRM_STREAMS }] : [])`.
 */
import type { SourceSetting, SourceStream } from '../../adapters/source/index.ts';
import type { Config } from '../config.ts';
import { CRM_STREAMS, type CrmStreamSpec } from '../contracts/crm-streams.ts';
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';
import type { SchemaField } from '../lineage/openlineage.ts';

/** A stream as extract hands it to a connector, with its contract's column types for the lineage. */
export interface ExtractStream extends SourceStream {
  schema: SchemaField[];
}

export interface ConfiguredSource {
  setting: SourceSetting;
  url: string;
  streams: ExtractStream[];
}

/** An OLTP table as a stream: read under its own name, its changes ordered by updated_at. */
export function tableStream(table: SourceTableSpec): ExtractStream {
  return {
    name: table.name,
    remoteName: table.name,
    columns: table.columns.map((column) => column.name),
    primaryKey: table.primaryKey,
    cursor: 'updated_at',
    schema: table.columns.map((column) => ({ name: column.name, type: column.type })),
  };
}

/** A CRM stream as its contract declares it (jobs/contracts/crm-streams.ts). */
export function crmStream(spec: CrmStreamSpec): ExtractStream {
  return {
    name: spec.name,
    remoteName: spec.remoteName,
    columns: spec.columns.map((column) => column.name),
    primaryKey: spec.primaryKey,
    cursor: spec.cursor,
    schema: spec.columns.map((column) => ({ name: column.name, type: column.type })),
  };
}

/** Every source the configuration names, `tables` standing for the OLTP database's (all of them by default). */
export function configuredSources(
  config: Config,
  tables: SourceTableSpec[] = SOURCE_TABLES,
): ConfiguredSource[] {
  return [
    { setting: 'SOURCE_URL', url: config.SOURCE_URL, streams: tables.map(tableStream) },
    ...(config.CRM_SOURCE_URL
      ? [
          {
            setting: 'CRM_SOURCE_URL' as const,
            url: config.CRM_SOURCE_URL,
            streams: CRM_STREAMS.map(crmStream),
          },
        ]
      : []),
  ];
}
