/**
 * Validates RunEvents against the vendored OpenLineage 2-0-2 schema and the facet schemas (schemas/, offline).
 * For tests and tooling: ajv is a dev dependency, so job code never imports this file.
 *
 * The facet schemas `$ref` the core by older version URLs (1-0-1, 1-0-2); the definitions they point at
 * (`#/$defs/JobFacet`, `DatasetFacet`, …) are unchanged in 2-0-2, so the vendored 2-0-2 core is registered under
 * those URLs as well rather than fetched.
 */
import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { RunEvent } from './openlineage.ts';

const SCHEMAS = new URL('./schemas/', import.meta.url);
const CORE_ALIASES = [
  'https://openlineage.io/spec/1-0-1/OpenLineage.json',
  'https://openlineage.io/spec/1-0-2/OpenLineage.json',
];
/** Facet key -> where it sits and its vendored schema file. */
const FACETS: { key: string; place: 'job' | 'run' | 'dataset' | 'input' | 'output'; file: string }[] = [
  { key: 'sql', place: 'job', file: 'SQLJobFacet.json' },
  { key: 'parent', place: 'run', file: 'ParentRunFacet.json' },
  { key: 'schema', place: 'dataset', file: 'SchemaDatasetFacet.json' },
  { key: 'outputStatistics', place: 'output', file: 'OutputStatisticsOutputDatasetFacet.json' },
  { key: 'dataQualityAssertions', place: 'input', file: 'DataQualityAssertionsDatasetFacet.json' },
];

type Schema = Record<string, unknown>;
type ValidateFn = ((data: unknown) => boolean) & { errors?: unknown[] | null };

const readSchema = (file: string): Schema =>
  JSON.parse(readFileSync(new URL(file, SCHEMAS), 'utf8')) as Schema;

// ajv and ajv-formats are CommonJS: the class and the plugin are their default exports.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
  options: Record<string, unknown>,
) => {
  addSchema(schema: Schema, key?: string): unknown;
  compile(schema: Schema): ValidateFn;
  getSchema(ref: string): ValidateFn | undefined;
  errorsText(errors?: unknown[] | null): string;
};
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: unknown,
) => void;

export interface LineageValidator {
  /** Problems of one event (empty when valid): the core schema, then every known facet against its own. */
  problems(event: unknown): string[];
}

export function createLineageValidator(): LineageValidator {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const core = readSchema('OpenLineage.json');
  ajv.addSchema(core);
  for (const alias of CORE_ALIASES) ajv.addSchema({ ...core, $id: alias });
  const validateEvent = ajv.getSchema(core.$id as string) as ValidateFn;
  const facetValidators = FACETS.map((facet) => {
    const schema = readSchema(`facets/${facet.file}`);
    const id = schema.$id as string;
    const name = Object.keys(schema.$defs as Schema)[0] as string;
    ajv.addSchema(schema);
    return { ...facet, validate: ajv.getSchema(`${id}#/$defs/${name}`) as ValidateFn };
  });
  return {
    problems(event) {
      const problems: string[] = [];
      if (!validateEvent(event)) problems.push(`event: ${ajv.errorsText(validateEvent.errors)}`);
      const runEvent = event as Partial<RunEvent>;
      const facetsAt = (place: (typeof FACETS)[number]['place']): [string, Record<string, unknown>][] => {
        const list: [string, Record<string, unknown>][] = [];
        const push = (where: string, facets: unknown) => {
          if (facets && typeof facets === 'object') list.push([where, facets as Record<string, unknown>]);
        };
        if (place === 'job') push('job', runEvent.job?.facets);
        if (place === 'run') push('run', runEvent.run?.facets);
        for (const [index, input] of (runEvent.inputs ?? []).entries()) {
          if (place === 'dataset') push(`inputs[${index}]`, input.facets);
          if (place === 'input') push(`inputs[${index}].inputFacets`, input.inputFacets);
        }
        for (const [index, output] of (runEvent.outputs ?? []).entries()) {
          if (place === 'dataset') push(`outputs[${index}]`, output.facets);
          if (place === 'output') push(`outputs[${index}].outputFacets`, output.outputFacets);
        }
        return list;
      };
      for (const facet of facetValidators) {
        for (const [where, facets] of facetsAt(facet.place)) {
          const value = facets[facet.key];
          if (value === undefined) continue;
          if (!facet.validate(value))
            problems.push(`${where}.${facet.key}: ${ajv.errorsText(facet.validate.errors)}`);
        }
      }
      return problems;
    },
  };
}
