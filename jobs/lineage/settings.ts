import { z } from 'zod';

/**
 * Lineage settings. Merge `LINEAGE_CONFIG_SHAPE` into the config schema (jobs/config.ts); until then
 * `lineageSettings(config)` applies the defaults, so lineage goes to the lake.
 */
export const LINEAGE_CONFIG_SHAPE = {
  /**
   * Where OpenLineage events go: `lake` (default: `lineage/run_id=<id>/<seq>.json` in LAKE_URL), `none`, or the
   * http(s) URL of a Marquez-compatible API (`http://marquez:5000` posts to `/api/v1/lineage`; a URL that already
   * ends in a path is used as is). The API key, if any, is the secret `OPENLINEAGE_API_KEY`.
   */
  OPENLINEAGE_URL: z
    .string()
    .default('lake')
    .refine((value) => value === 'lake' || value === 'none' || /^https?:\/\/[^\s]+$/.test(value), {
      message: 'must be "lake", "none" or an http(s):// URL',
    }),
  /** The OpenLineage job namespace of every job this platform runs. */
  OPENLINEAGE_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9._:/@-]+$/, 'may hold letters, digits and . _ : / @ -')
    .default('ecomm'),
};

const lineageSettingsSchema = z.object(LINEAGE_CONFIG_SHAPE);
export type LineageSettings = z.infer<typeof lineageSettingsSchema>;

/** Reads the lineage settings from a config object (extra keys ignored, blanks mean unset). */
export function lineageSettings(config: object): LineageSettings {
  const source = config as Record<string, unknown>;
  const picked = Object.fromEntries(
    Object.keys(LINEAGE_CONFIG_SHAPE).map((key) => {
      const value = source[key];
      return [key, typeof value === 'string' && value.trim() === '' ? undefined : value];
    }),
  );
  return lineageSettingsSchema.parse(picked);
}
