/**
 * A workload's lake access on Azure, as the AWS task policy gives it (aws-policies.ts, lakeStatements): one custom
 * role holding only the blob data actions (no control-plane action, so no identity can change or delete the
 * container), assigned on the lake container with an attribute-based condition that confines each verb to the
 * prefixes the catalog's `lake` names for that workload. Pure, so it is tested without Azure.
 */
import { createHash } from 'node:crypto';
import type { LakeAccess } from '../jobs/catalog.ts';

const BLOBS = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';

/** Read (get, properties, and list as its Blob.List sub-operation), write (put, blocks), and delete. */
export const LAKE_DATA_ACTIONS = {
  read: `${BLOBS}/read`,
  write: `${BLOBS}/write`,
  add: `${BLOBS}/add/action`,
  delete: `${BLOBS}/delete`,
} as const;

/** The custom role's data actions: exactly the four above; it has no `actions` at all. */
export const LAKE_ROLE_DATA_ACTIONS: string[] = Object.values(LAKE_DATA_ACTIONS);

/**
 * The data actions the stack's lake role holds for these workloads: read, write and add, and delete only when some
 * workload has a prefix to delete under (none does today: the condition would refuse it anyway, and a role that
 * cannot delete is the stronger guarantee).
 */
export function lakeRoleDataActions(accesses: readonly (LakeAccess | null)[]): string[] {
  const deletes = accesses.some((access) => (access?.delete.length ?? 0) > 0);
  return LAKE_ROLE_DATA_ACTIONS.filter((action) => deletes || action !== LAKE_DATA_ACTIONS.delete);
}

/** Azure's condition language version for storage attribute conditions. */
export const LAKE_CONDITION_VERSION = '2.0';

function startsWithAny(attribute: string, prefixes: string[]): string {
  return prefixes.map((prefix) => `${attribute} StringStartsWith '${prefix}'`).join(' OR ');
}

/** `(NOT the action) OR (the target starts with one of the prefixes)`: with no prefix, the action is refused. */
function confine(action: string, attribute: string, prefixes: string[]): string {
  const other = `!(${action})`;
  return prefixes.length === 0 ? `(${other})` : `((${other}) OR (${startsWithAny(attribute, prefixes)}))`;
}

/**
 * The role assignment's condition: blob reads under the read prefixes, listings asking for a read prefix, writes
 * under the write prefixes, deletes under the delete prefixes; anything else the role allows is refused.
 */
export function lakeAccessCondition(access: LakeAccess): string {
  const path = `@Resource[${BLOBS}:path]`;
  const listPrefix = `@Request[${BLOBS}:prefix]`;
  const read = `ActionMatches{'${LAKE_DATA_ACTIONS.read}'}`;
  return [
    confine(`${read} AND NOT SubOperationMatches{'Blob.List'}`, path, access.read),
    confine(`${read} AND SubOperationMatches{'Blob.List'}`, listPrefix, access.read),
    confine(
      `ActionMatches{'${LAKE_DATA_ACTIONS.write}'} OR ActionMatches{'${LAKE_DATA_ACTIONS.add}'}`,
      path,
      access.write,
    ),
    confine(`ActionMatches{'${LAKE_DATA_ACTIONS.delete}'}`, path, access.delete),
  ].join(' AND ');
}

/** A custom role definition's name must be a GUID: one derived from the seed, stable across runs. */
export function roleDefinitionGuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The condition's top-level clauses: split on ` AND ` outside parentheses. */
function topLevelClauses(condition: string): string[] {
  const clauses: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < condition.length; i += 1) {
    const char = condition[i];
    if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    else if (depth === 0 && condition.startsWith(' AND ', i)) {
      clauses.push(condition.slice(start, i));
      start = i + 5;
    }
  }
  clauses.push(condition.slice(start));
  return clauses;
}

/**
 * The access a condition made by lakeAccessCondition grants, read back from the condition alone: what the
 * parity manifest compares with the AWS policy. Throws on a condition of another shape, or one whose listing
 * prefixes differ from its read prefixes.
 */
export function lakeAccessFromCondition(condition: string): LakeAccess {
  const prefixesOf = (clause: string) =>
    [...clause.matchAll(/StringStartsWith '([^']*)'/g)].map((match) => match[1] as string).sort();
  const access: LakeAccess = { read: [], write: [], delete: [] };
  let listed: string[] = [];
  for (const clause of topLevelClauses(condition)) {
    const prefixes = prefixesOf(clause) as LakeAccess['read'];
    if (clause.includes("AND NOT SubOperationMatches{'Blob.List'}")) access.read = prefixes;
    else if (clause.includes("AND SubOperationMatches{'Blob.List'}")) listed = prefixes;
    else if (clause.includes(LAKE_DATA_ACTIONS.write)) access.write = prefixes;
    else if (clause.includes(LAKE_DATA_ACTIONS.delete)) access.delete = prefixes;
    else throw new Error(`not a lake access clause: ${clause}`);
  }
  if (listed.join() !== access.read.join())
    throw new Error(`lists ${listed.join(', ')} but reads ${access.read.join(', ')}`);
  return access;
}
