/**
 * Dataset names, following the OpenLineage naming conventions (https://openlineage.io/docs/spec/naming):
 *
 * | store                 | namespace                                     | name                              |
 * | --------------------- | --------------------------------------------- | --------------------------------- |
 * | PostgreSQL, PGlite    | `postgres://host:port` (`pglite://<location>`) | `<database>.<schema>.<table>`     |
 * | Redshift              | `redshift://host:port`                        | `<database>.<schema>.<table>`     |
 * | Kafka, memory stream  | `kafka://first-bootstrap:port` (`memory://…`)  | topic (prefix included)           |
 * | S3                    | `s3://bucket`                                 | `<prefix>/<zone>/source=<name>`   |
 * | Azure Blob            | `wasbs://container@account.blob.core.windows.net` | `<prefix>/<zone>/source=<name>` |
 * | local lake            | `file`                                        | absolute folder path              |
 *
 * The database defaults to `postgres` (PostgreSQL's and PGlite's default database), `dev` on Redshift, so the
 * embedded source table `orders` is `postgres.public.orders` and the gold fact is `postgres.gold.fact_orders`.
 * A lake dataset is a zone's folder for one source (every batch object under it), not one object: lineage is
 * about tables, and a batch id is not a dataset.
 */
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { DatasetRef } from './openlineage.ts';

interface ParsedUrl {
  scheme: string;
  authority: string;
  path: string;
}

function parseUrl(url: string): ParsedUrl {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?([^/?#]*)([^?#]*)/i.exec(url.trim());
  if (!match) return { scheme: 'unknown', authority: '', path: url };
  return { scheme: (match[1] ?? '').toLowerCase(), authority: match[2] ?? '', path: match[3] ?? '' };
}

const DEFAULT_PORTS: Record<string, number> = { postgres: 5432, postgresql: 5432, redshift: 5439 };

/** The OpenLineage namespace of a database URL (credentials, database and query removed). */
export function databaseNamespace(url: string): string {
  const { scheme, authority, path } = parseUrl(url);
  if (scheme === 'pglite') return `pglite://${authority}${path}`;
  const engine = scheme === 'postgresql' ? 'postgres' : scheme;
  const port = DEFAULT_PORTS[scheme];
  const hostPort = port !== undefined && !/:\d+$/.test(authority) ? `${authority}:${port}` : authority;
  return `${engine}://${hostPort}`;
}

/** The database a URL connects to: its path, or the engine's default database. */
export function databaseName(url: string): string {
  const { scheme, path } = parseUrl(url);
  if (scheme === 'pglite') return 'postgres';
  const database = decodeURIComponent(path.replace(/^\//, '').split('/')[0] ?? '');
  if (database !== '') return database;
  return scheme === 'redshift' ? 'dev' : 'postgres';
}

/** A table (`schema.table`) in the database at `url`. */
export function tableDataset(url: string, schemaTable: string): DatasetRef {
  return { namespace: databaseNamespace(url), name: `${databaseName(url)}.${schemaTable}` };
}

/** A topic of the stream at `url` (pass the physical topic name, prefix included). */
export function topicDataset(streamUrl: string, topic: string): DatasetRef {
  const { scheme, authority, path } = parseUrl(streamUrl);
  if (scheme === 'kafka')
    return { namespace: `kafka://${authority.split(',')[0] ?? authority}`, name: topic };
  return { namespace: `${scheme}://${authority}${path}`, name: topic };
}

/** The folder of one source in one lake zone (`raw/source=orders`), wherever the lake lives. */
export function lakeDataset(lake: ObjectStore, zone: string, source: string): DatasetRef {
  return lakeLocation(lake.locate(`${zone}/source=${source}`));
}

/** Splits a store's own address of a key into an OpenLineage namespace and name. */
export function lakeLocation(location: string): DatasetRef {
  const s3 = /^s3a?:\/\/([^/]+)\/?(.*)$/i.exec(location);
  if (s3) return { namespace: `s3://${s3[1]}`, name: s3[2] ?? '' };
  const blob = /^https:\/\/([^./]+)\.blob\.core\.windows\.net\/([^/]+)\/?(.*)$/i.exec(location);
  if (blob) return { namespace: `wasbs://${blob[2]}@${blob[1]}.blob.core.windows.net`, name: blob[3] ?? '' };
  const http = /^(https?):\/\/([^/]+)\/?(.*)$/i.exec(location);
  if (http) return { namespace: `${http[1]}://${http[2]}`, name: http[3] ?? '' };
  return { namespace: 'file', name: location };
}

/** Identity of a dataset in a lineage graph. */
export function datasetKey(dataset: DatasetRef): string {
  return `${dataset.namespace}|${dataset.name}`;
}
