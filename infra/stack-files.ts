/**
 * Reads the committed stack files. Pulumi hands the program only the selected stack's own config;
 * the settings every stack of a cloud shares are read here, from the cloud's file next to Pulumi.yaml.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type Cloud, cloudDefaultsFileName } from './stack-name.ts';

/** Where Pulumi.yaml and the stack files live, whatever directory the program runs from. */
export const PROJECT_ROOT = new URL('../', import.meta.url);

/** A YAML file of the project (Pulumi.yaml, a stack file) as a document. */
export function readProjectYaml(fileName: string, root: URL = PROJECT_ROOT): unknown {
  return parseYaml(readFileSync(new URL(fileName, root), 'utf8'));
}

/** A stack file's `config:` map as YAML gives it: nested objects, lists, numbers. */
export function readStackFileConfig(fileName: string, root: URL = PROJECT_ROOT): Record<string, unknown> {
  const document = readProjectYaml(fileName, root);
  const config = (document as { config?: unknown } | null | undefined)?.config ?? {};
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw new Error(`${fileName}: "config" must be a map of keys to values`);
  return config as Record<string, unknown>;
}

/** Config values as Pulumi hands them to a program: objects and lists as JSON, scalars as text. */
export function asPulumiConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value),
    ]),
  );
}

/** The settings every stack of the cloud shares, in the form `pulumi.runtime.allConfig()` has. */
export function readCloudDefaults(cloud: Cloud, root: URL = PROJECT_ROOT): Record<string, string> {
  return asPulumiConfig(readStackFileConfig(cloudDefaultsFileName(cloud), root));
}
