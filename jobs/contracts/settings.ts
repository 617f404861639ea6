import { z } from 'zod';
import { jsonSetting } from '../json-setting.ts';
import { isCalendarDate, type TimeWindow } from './column-types.ts';
import { type CheckOptions, DATA_CONTRACTS, DEFAULT_TIME_WINDOW } from './data-contracts.ts';

const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((text) => isCalendarDate(...(text.split('-').map(Number) as [number, number, number])), {
    message: 'must be a real calendar day',
  });

const futureSeconds = z.coerce
  .number()
  .int()
  .min(0)
  .max(10 * 366 * 86_400);

/** The time columns a window may be set for: `<source>.<field>` of every timestamp and date column. */
const TIME_FIELDS: string[] = DATA_CONTRACTS.flatMap((contract) =>
  contract.specs
    .filter((spec) => spec.type === 'timestamptz' || spec.type === 'date')
    .map((spec) => `${contract.source}.${spec.name}`),
);

const fieldWindow = z
  .object({ earliest: calendarDate.optional(), maxFutureSeconds: futureSeconds.optional() })
  .strict();

const fieldWindowsJson = jsonSetting(
  z.record(z.string(), fieldWindow).superRefine((windows, context) => {
    for (const field of Object.keys(windows).filter((name) => !TIME_FIELDS.includes(name))) {
      context.addIssue({
        code: 'custom',
        message: `"${field}" is not a timestamp or date column (known: ${TIME_FIELDS.join(', ')})`,
      });
    }
  }),
  '{"orders.ordered_at": {"earliest": "2015-01-01", "maxFutureSeconds": 3600}}',
);

/**
 * The plausible time window of every timestamp and date column (merged into the job config, jobs/config.ts): a
 * value before the earliest day, or further ahead of the validation time than the tolerance, is quarantined with
 * its reason.
 */
export const CONTRACT_CONFIG_SHAPE = {
  /** The earliest plausible day of any timestamp or date (UTC). */
  CONTRACT_EARLIEST_DATE: calendarDate.default(DEFAULT_TIME_WINDOW.earliest.toISOString().slice(0, 10)),
  /** How far ahead of the validation time a timestamp or date may lie. */
  CONTRACT_MAX_FUTURE_SECONDS: futureSeconds.default(DEFAULT_TIME_WINDOW.maxFutureSeconds),
  /** Per-field windows, JSON: `{"orders.ordered_at": {"earliest": "2015-01-01", "maxFutureSeconds": 3600}}`. */
  CONTRACT_FIELD_WINDOWS: fieldWindowsJson,
};

const contractSettingsSchema = z.object(CONTRACT_CONFIG_SHAPE);
type ContractSettings = z.infer<typeof contractSettingsSchema>;

/** The options every contract check of a job takes: its clock and the configured windows. */
export function contractCheckOptions(settings: ContractSettings, now: Date): CheckOptions {
  const window: TimeWindow = {
    earliest: new Date(`${settings.CONTRACT_EARLIEST_DATE}T00:00:00Z`),
    maxFutureSeconds: settings.CONTRACT_MAX_FUTURE_SECONDS,
  };
  const fieldWindows = Object.fromEntries(
    Object.entries(settings.CONTRACT_FIELD_WINDOWS).map(([field, override]) => [
      field,
      {
        ...(override.earliest ? { earliest: new Date(`${override.earliest}T00:00:00Z`) } : {}),
        ...(override.maxFutureSeconds === undefined ? {} : { maxFutureSeconds: override.maxFutureSeconds }),
      },
    ]),
  );
  return { now, window, fieldWindows };
}
