/**
 * The sources extract reads: each a URL setting and the streams jobs/contracts declares for it. SOURCE_URL, the OLTP
 * database, is always there; one more source is an optional `<NAME>_SOURCE_URL` setting (config.ts:
 * `optionalSourceUrl()`), extracted when it is set: one entry below, e.g.
 * `...(config.CRM_SOURCE_URL ? [{ setting: 'CRM_SOURCE_URL', url: config.CRM_SOURCE_URL, streams: CRM_STREAMS }] : [])`.
 */
import type { SourceSetting, SourceStream } from '../../adapters/source/index.ts';
import type { Config } from '../config.ts';
import { CRM_STREAMS, type CrmStreamSpec } from '../contracts/crm-streams.ts';
import { HISTORY_STREAMS, type HistoryStreamSpec } from '../contracts/history-streams.ts';
import {
  CURRENCIES,
  oltpColumns,
  SOURCE_TABLES,
  type SourceTableSpec,
  sourceTable,
} from '../contracts/source-tables.ts';
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
  const columns = oltpColumns(table);
  return {
    name: table.name,
    remoteName: table.name,
    columns: columns.map((column) => column.name),
    primaryKey: table.primaryKey,
    cursor: 'updated_at',
    schema: columns.map((column) => ({ name: column.name, type: column.type })),
  };
}

/**
 * fx_rates from the FX vendor (FX_SOURCE_URL, adapters/source/fx-http.ts): every contract column, is_carried_forward
 * included; its remoteName is the currencies the contract accepts, the only ones asked for.
 */
export function fxStream(): ExtractStream {
  const table = sourceTable('fx_rates');
  return {
    name: table.name,
    remoteName: CURRENCIES.join(','),
    columns: table.columns.map((column) => column.name),
    primaryKey: table.primaryKey,
    cursor: 'updated_at',
    schema: table.columns.map((column) => ({ name: column.name, type: column.type })),
  };
}

/**
 * OLTP tables another source stands in for, by the setting that does: extract reads them from there, and reconcile
 * and backfill, which query SOURCE_URL, leave them alone.
 */
export function replacedTables(config: Config): Map<string, SourceSetting> {
  return new Map(config.FX_SOURCE_URL ? [['fx_rates', 'FX_SOURCE_URL' as const]] : []);
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

/** A history stream (jobs/contracts/history-streams.ts): its spec has the CRM specs' shape. */
export const historyStream = (spec: HistoryStreamSpec): ExtractStream => crmStream(spec);

/** Every source the configuration names, `tables` standing for the OLTP database's (all of them by default). */
export function configuredSources(
  config: Config,
  tables: SourceTableSpec[] = SOURCE_TABLES,
): ConfiguredSource[] {
  const replaced = replacedTables(config);
  const fx = config.FX_SOURCE_URL && tables.some((table) => table.name === 'fx_rates');
  return [
    {
      setting: 'SOURCE_URL',
      url: config.SOURCE_URL,
      streams: tables.filter((table) => !replaced.has(table.name)).map(tableStream),
    },
    ...(config.CRM_SOURCE_URL
      ? [
          {
            setting: 'CRM_SOURCE_URL' as const,
            url: config.CRM_SOURCE_URL,
            streams: CRM_STREAMS.map(crmStream),
          },
        ]
      : []),
    ...(config.HISTORY_SOURCE_URL
      ? [
          {
            setting: 'HISTORY_SOURCE_URL' as const,
            url: config.HISTORY_SOURCE_URL,
            streams: HISTORY_STREAMS.map(historyStream),
          },
        ]
      : []),
    ...(fx && config.FX_SOURCE_URL
      ? [{ setting: 'FX_SOURCE_URL' as const, url: config.FX_SOURCE_URL, streams: [fxStream()] }]
      : []),
  ];
}
