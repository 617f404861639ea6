import { z } from 'zod';

/**
 * A setting that holds JSON: unset is `{}`, text from the environment is parsed (a parse error names the expected
 * shape with an example), and an object (the config parsed once already) passes as it is; then the schema checks it.
 */
export function jsonSetting<Schema extends z.ZodType>(schema: Schema, example: string) {
  return z.preprocess((value, context) => {
    if (value === undefined) return {};
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: `must be JSON: ${example}` });
      return z.NEVER;
    }
  }, schema);
}
