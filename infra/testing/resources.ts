/** Small readers over recorded resources, for assertions. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RecordedResource } from './mock-cloud.ts';

export type Json = Record<string, unknown>;

export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function onlyOne(resources: RecordedResource[], type: string): RecordedResource {
  const found = ofType(resources, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as RecordedResource;
}

/** A nested input as a plain object (inputs arrive as parsed JSON-like values). */
export function field<T = unknown>(value: unknown, ...path: (string | number)[]): T {
  let current: unknown = value;
  for (const key of path) current = (current as Record<string | number, unknown> | undefined)?.[key];
  return current as T;
}

const require = createRequire(import.meta.url);
const packageRoots: Record<string, string> = {};
const taggable = new Map<string, boolean>();

function packageRoot(name: string): string {
  packageRoots[name] ??= dirname(require.resolve(`${name}/package.json`));
  return packageRoots[name];
}

/**
 * Whether a resource type accepts tags, read from its SDK declaration (`tags?:` in its Args), so
 * the tag check covers every taggable type without a hand-kept list.
 */
export function isTaggable(type: string): boolean {
  const cached = taggable.get(type);
  if (cached !== undefined) return cached;
  let file: string | undefined;
  const aws = /^aws:([^/]+)\/([^:]+):/.exec(type);
  const azure = /^azure-native:([^:]+):(\w+)$/.exec(type);
  if (aws?.[1] !== undefined && aws[2] !== undefined)
    file = join(packageRoot('@pulumi/aws'), aws[1], `${aws[2]}.d.ts`);
  if (azure?.[1] !== undefined && azure[2] !== undefined) {
    const base = `${azure[2].charAt(0).toLowerCase()}${azure[2].slice(1)}`;
    file = join(packageRoot('@pulumi/azure-native'), azure[1], `${base}.d.ts`);
  }
  let result = false;
  if (file !== undefined) {
    const source = readFileSync(file, 'utf8');
    const args = /export interface \w+Args \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    result = /\n\s+tags\?:/.test(args);
  }
  taggable.set(type, result);
  return result;
}
