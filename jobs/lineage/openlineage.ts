/**
 * OpenLineage 2-0-2 RunEvents (https://openlineage.io/spec/2-0-2/OpenLineage.json), built as plain objects.
 * The facets used here are the ones vendored under schemas/ (tests validate every event against them); their
 * `_schemaURL`s are those schemas' own `$id`s, so a consumer can tell exactly which shape each facet has.
 */

export const OPENLINEAGE_SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

/** Who wrote the event (a URI, required by the spec on events and facets). */
export const PRODUCER = 'https://github.com/ecomm-data-platform/ecomm/tree/main/jobs';

export const FACET_SCHEMA_URLS = {
  sql: 'https://openlineage.io/spec/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet',
  schema: 'https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
  outputStatistics:
    'https://openlineage.io/spec/1-0-1/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet',
  dataQualityAssertions:
    'https://openlineage.io/spec/facets/1-0-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet',
  parent: 'https://openlineage.io/spec/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet',
} as const;

export type EventType = 'START' | 'COMPLETE' | 'FAIL' | 'ABORT' | 'RUNNING' | 'OTHER';

export interface BaseFacet {
  _producer: string;
  _schemaURL: string;
  [key: string]: unknown;
}

export interface SqlJobFacet extends BaseFacet {
  query: string;
}

export interface SchemaField {
  name: string;
  type?: string;
  description?: string;
}

export interface SchemaDatasetFacet extends BaseFacet {
  fields: SchemaField[];
}

export interface OutputStatisticsFacet extends BaseFacet {
  rowCount: number;
  size?: number;
}

export interface Assertion {
  assertion: string;
  success: boolean;
  column?: string;
}

export interface DataQualityAssertionsFacet extends BaseFacet {
  assertions: Assertion[];
}

export interface ParentRunFacet extends BaseFacet {
  run: { runId: string };
  job: { namespace: string; name: string };
}

/** A dataset as the spec names it: the namespace of its store, the name inside that store. */
export interface DatasetRef {
  namespace: string;
  name: string;
}

export interface InputDataset extends DatasetRef {
  facets?: { schema?: SchemaDatasetFacet; [key: string]: BaseFacet | undefined };
  inputFacets?: { dataQualityAssertions?: DataQualityAssertionsFacet; [key: string]: BaseFacet | undefined };
}

export interface OutputDataset extends DatasetRef {
  facets?: { schema?: SchemaDatasetFacet; [key: string]: BaseFacet | undefined };
  outputFacets?: { outputStatistics?: OutputStatisticsFacet; [key: string]: BaseFacet | undefined };
}

export interface RunEvent {
  eventType: EventType;
  eventTime: string;
  run: { runId: string; facets?: { parent?: ParentRunFacet; [key: string]: BaseFacet | undefined } };
  job: {
    namespace: string;
    name: string;
    facets?: { sql?: SqlJobFacet; [key: string]: BaseFacet | undefined };
  };
  inputs: InputDataset[];
  outputs: OutputDataset[];
  producer: string;
  schemaURL: string;
}

function facet<T extends object>(schemaUrl: string, body: T): T & BaseFacet {
  return { _producer: PRODUCER, _schemaURL: schemaUrl, ...body };
}

export function sqlFacet(query: string): SqlJobFacet {
  return facet(FACET_SCHEMA_URLS.sql, { query });
}

export function schemaFacet(fields: SchemaField[]): SchemaDatasetFacet {
  return facet(FACET_SCHEMA_URLS.schema, { fields });
}

export function outputStatisticsFacet(rowCount: number, size?: number): OutputStatisticsFacet {
  const body: { rowCount: number; size?: number } = { rowCount: Math.max(0, Math.round(rowCount)) };
  if (size !== undefined) body.size = Math.max(0, Math.round(size));
  return facet(FACET_SCHEMA_URLS.outputStatistics, body);
}

export function dataQualityAssertionsFacet(assertions: Assertion[]): DataQualityAssertionsFacet {
  return facet(FACET_SCHEMA_URLS.dataQualityAssertions, { assertions });
}

export function parentRunFacet(parent: { runId: string; namespace: string; name: string }): ParentRunFacet {
  return facet(FACET_SCHEMA_URLS.parent, {
    run: { runId: parent.runId },
    job: { namespace: parent.namespace, name: parent.name },
  });
}

export interface RunEventInput {
  eventType: EventType;
  eventTime: Date;
  runId: string;
  job: { namespace: string; name: string };
  parent?: { runId: string; namespace: string; name: string } | undefined;
  jobFacets?: RunEvent['job']['facets'] | undefined;
  runFacets?: Record<string, BaseFacet> | undefined;
  inputs?: InputDataset[] | undefined;
  outputs?: OutputDataset[] | undefined;
}

export function runEvent(input: RunEventInput): RunEvent {
  const runFacets: Record<string, BaseFacet> = { ...(input.runFacets ?? {}) };
  if (input.parent) runFacets.parent = parentRunFacet(input.parent);
  const run: RunEvent['run'] = { runId: input.runId };
  if (Object.keys(runFacets).length > 0) run.facets = runFacets;
  const job: RunEvent['job'] = { namespace: input.job.namespace, name: input.job.name };
  if (input.jobFacets && Object.keys(input.jobFacets).length > 0) job.facets = input.jobFacets;
  return {
    eventType: input.eventType,
    eventTime: input.eventTime.toISOString(),
    run,
    job,
    inputs: input.inputs ?? [],
    outputs: input.outputs ?? [],
    producer: PRODUCER,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
  };
}

/** `gold.fact_orders: not_null(order_id, customer_id)` -> the kind and its single column, when it has one. */
export function assertionOf(checkType: string, checkId: string, passed: boolean): Assertion {
  const declaration = /:\s*([a-z_]+)\(([^;)]*)/.exec(checkId);
  const columns = declaration?.[2]
    ?.split(',')
    .map((part) => part.trim())
    .filter((part) => /^[a-z_][a-z0-9_]*$/i.test(part));
  const assertion: Assertion = { assertion: checkType, success: passed };
  if (columns && columns.length === 1 && columns[0]) assertion.column = columns[0];
  return assertion;
}
