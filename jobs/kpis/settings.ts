import { z } from 'zod';

const HOURS = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/;

/** `HH:MM-HH:MM` in UTC, as minutes of the day: [from, to). A range may wrap midnight (`22:00-06:00`). */
export interface BusinessHours {
  fromMinute: number;
  toMinute: number;
}

const businessHours = z
  .string()
  .regex(HOURS, 'must be HH:MM-HH:MM in UTC (e.g. 08:00-22:00)')
  .default('08:00-22:00')
  .transform((text): BusinessHours => {
    const [, fromH, fromM, toH, toM] = HOURS.exec(text) as unknown as string[];
    return { fromMinute: Number(fromH) * 60 + Number(fromM), toMinute: Number(toH) * 60 + Number(toM) };
  })
  .refine((hours) => hours.fromMinute !== hours.toMinute && hours.toMinute <= 24 * 60, {
    message: 'must be a range of at least one minute, ending at 24:00 at the latest',
  });

/** The real-time KPI settings, merged into the config schema (jobs/config.ts). */
export const KPI_CONFIG_SHAPE = {
  /**
   * The stream service evaluates the KPI alert rules (jobs/kpis/alert-rules.ts) every this many seconds, raising
   * and resolving incidents and delivering their alerts. 0: it evaluates none.
   */
  KPI_ALERT_SECONDS: z.coerce.number().int().min(0).max(600).default(30),
  /** When "no orders for N minutes" is a problem (UTC): outside these hours the rule is not judged. */
  KPI_BUSINESS_HOURS: businessHours,
  /**
   * The watchdog's reconciliation of the real-time totals with gold, per day gold covers: a relative difference of
   * orders or revenue above this is a finding (jobs/kpis/reconcile-gold.ts).
   */
  KPI_RECONCILE_TOLERANCE: z.coerce.number().min(0).max(1).default(0.005),
};

const kpiSettingsSchema = z.object(KPI_CONFIG_SHAPE);
export type KpiSettings = z.infer<typeof kpiSettingsSchema>;

/** The KPI settings of a parsed config (jobs/config.ts includes KPI_CONFIG_SHAPE). */
export function kpiSettings(config: KpiSettings): KpiSettings {
  return {
    KPI_ALERT_SECONDS: config.KPI_ALERT_SECONDS,
    KPI_BUSINESS_HOURS: config.KPI_BUSINESS_HOURS,
    KPI_RECONCILE_TOLERANCE: config.KPI_RECONCILE_TOLERANCE,
  };
}

export function withinBusinessHours(hours: BusinessHours, at: Date): boolean {
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  return hours.fromMinute < hours.toMinute
    ? minute >= hours.fromMinute && minute < hours.toMinute
    : minute >= hours.fromMinute || minute < hours.toMinute;
}
