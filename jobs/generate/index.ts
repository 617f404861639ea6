/** Public surface of the synthetic data generator (`ecomm generate`). See docs/generator.md. */
export { ANOMALY_FRACTIONS, MIN_PER_KIND } from './anomalies.ts';
export { applySourceChanges, type SourceChangeOptions, type SourceChanges } from './changes.ts';
export { type GenerateJobOptions, generate } from './generate.ts';
export {
  createSourceSchema,
  type LoadOptions,
  loadSourceDatabase,
  publishEvents,
  SOURCE_SCHEMA_SQL,
} from './source-writer.ts';
export { BASE_COUNTS, generateStoreData } from './store-data.ts';
export type {
  Anomaly,
  AnomalyExpectation,
  AnomalyKind,
  CustomerRow,
  EventMessage,
  FxRateRow,
  GeneratedData,
  GenerateOptions,
  GenerateResult,
  OrderItemRow,
  OrderRow,
  ProductRow,
  SourceRows,
} from './types.ts';
