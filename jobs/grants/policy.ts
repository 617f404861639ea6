/**
 * The warehouse access policy, declared once: which roles exist, which of them log in, and what each may do per
 * schema. `ecomm grants` (jobs/grants/index.ts) creates the roles and keeps their privileges in step with this file
 * on PostgreSQL and Redshift (render.ts); docs/access.md explains it. Invariant 10 (least privilege): every job and
 * service logs in as its own role with only what it needs, and nothing runs as the warehouse's admin but this job.
 *
 * Access per schema, each level including the ones before it:
 * - `read`: USAGE on the schema, SELECT on its tables (present, and future ones through default privileges).
 * - `lock`: also UPDATE, only so the role may take the write lock the model builds take on the stream's bronze
 *   tables (lockForWriteSql: PostgreSQL grants SHARE ROW EXCLUSIVE only to a role that may update, delete or
 *   truncate); the builds never update bronze. No INSERT, DELETE or TRUNCATE.
 * - `write`: also INSERT, UPDATE, DELETE, TRUNCATE (the loads delete a batch before they copy it again, and lock
 *   the table they write, which PostgreSQL allows only to a role that may update, delete or truncate it).
 * - `create`: also CREATE on the schema: the role builds tables there (the models' `__next` tables, swapped in).
 */

import { warehouseLoginOf } from '../catalog.ts';

export const WAREHOUSE_SCHEMAS = ['bronze', 'silver', 'gold', 'ops', 'pii', 'realtime'] as const;
export type WarehouseSchema = (typeof WAREHOUSE_SCHEMAS)[number];

export type Access = 'read' | 'lock' | 'write' | 'create';

export interface RolePolicy {
  /** The role's name in the warehouse. */
  name: string;
  /**
   * A job's or service's login (its password from the secret store), or a group role people are granted
   * (NOLOGIN on PostgreSQL, a role of Redshift's role-based access control).
   */
  login: boolean;
  /** What the role may do, per schema; a schema not named is out of reach. */
  access: Partial<Record<WarehouseSchema, Access>>;
  /** Group roles this role is a member of (and inherits the privileges of). */
  memberOf?: string[];
  /** Every transaction starts read-only (PostgreSQL `default_transaction_read_only`): a stray grant cannot write. */
  readOnly?: boolean;
  /** Logins only: the secret holding its password (see passwordSecretOf). */
  passwordSecret?: string;
  /** Why the role has what it has, shown by `ecomm grants --plan` and the docs. */
  purpose: string;
}

/**
 * The NOLOGIN role that owns the silver, gold and pii tables: the logins that build models (transform, run,
 * rebuild) are its members, and the build hands each new table to it (jobs/models/build.ts `tableOwner`), so any of
 * them can drop and swap a table another built. PostgreSQL lets only a table's owner (or a member of the owning
 * role) drop or rename it. An owner may do anything to its tables, and so may its members: only logins whose policy
 * already allows everything on silver, gold and pii are members.
 */
export const MODEL_OWNER_ROLE = 'ecomm_models';

/** A job's warehouse login: `ecomm_` + the catalog job name with `-` as `_` (the infra stacks use the same name). */
export function jobLoginOf(job: string): string {
  return warehouseLoginOf(job);
}

/**
 * The secret holding a job login's password: `<LOGIN>_PASSWORD` (`ECOMM_LOAD_PASSWORD`, `ECOMM_STREAM_INGEST_PASSWORD`,
 * `ECOMM_MONITOR_PASSWORD`), the name both stacks store it under. The job's WAREHOUSE_URL names it:
 * `postgres://ecomm_load@host/db?passwordSecret=ECOMM_LOAD_PASSWORD`.
 */
export function passwordSecretOf(job: string): string {
  return `${jobLoginOf(job).toUpperCase()}_PASSWORD`;
}

const ALL_LAYERS = {
  bronze: 'create',
  silver: 'create',
  gold: 'create',
  ops: 'create',
  pii: 'create',
  realtime: 'create',
} as const;

/** The models' layers, built and swapped by the jobs that run the transform. */
const BUILDS_MODELS = { silver: 'create', gold: 'create', pii: 'create' } as const;

/** What a job that loads staged batches writes: bronze, the pii landing tables, and the batch ledger in ops. */
const LOADS_BATCHES = { bronze: 'write', pii: 'write', ops: 'write' } as const;

function jobLogin(
  job: string,
  access: RolePolicy['access'],
  purpose: string,
  extra: Partial<RolePolicy> = {},
): RolePolicy {
  return {
    name: jobLoginOf(job),
    login: true,
    access,
    passwordSecret: passwordSecretOf(job),
    purpose,
    ...extra,
  };
}

export const ACCESS_POLICY: readonly RolePolicy[] = [
  // Group roles for people: grant them to a person's own login (docs/access.md).
  {
    name: 'data_engineer',
    login: false,
    access: ALL_LAYERS,
    purpose: 'people who run and repair the platform: every layer, clear PII included',
  },
  {
    name: 'analyst',
    login: false,
    access: { silver: 'read', gold: 'read', realtime: 'read' },
    purpose: 'analysts: silver (its PII is hashed; clear PII lives in pii) and gold, read-only',
  },
  {
    name: 'bi_reader',
    login: false,
    access: { gold: 'read', realtime: 'read' },
    purpose: 'dashboards and BI tools: gold and the real-time KPIs, read-only',
  },
  {
    name: 'monitor',
    login: false,
    access: { ops: 'read', gold: 'read', realtime: 'read' },
    purpose: 'the monitoring UI: the ops ledger, gold and the real-time KPIs, read-only',
  },
  {
    name: MODEL_OWNER_ROLE,
    login: false,
    access: BUILDS_MODELS,
    purpose: 'owns the model tables, so every login that builds models can swap any of them',
  },
  // One login per job and service, with only what it writes (and reads).
  jobLogin('monitor', {}, 'the monitor service: the monitor group role, every transaction read-only', {
    memberOf: ['monitor'],
    readOnly: true,
  }),
  jobLogin('extract', { ops: 'write' }, 'writes the lake and its watermarks and batches in ops'),
  jobLogin(
    'stream-ingest',
    { bronze: 'write', silver: 'write', ops: 'write', realtime: 'write' },
    // Not a member of ecomm_models: the owner of every model table, its members may do anything to gold and pii.
    'loads event batches into bronze, applies them to silver and the real-time KPIs',
  ),
  jobLogin('validate', { ops: 'write' }, 'records batches and quarantined rows in ops'),
  // The loaders land a source's rows with clear PII whole in pii's landing tables (jobs/load/index.ts), then copy
  // them into bronze without those columns: they write pii, and read none of the other layers.
  jobLogin('load', LOADS_BATCHES, 'loads staged batches into bronze and the pii landing tables'),
  jobLogin(
    'reconcile',
    { bronze: 'write', silver: 'read', ops: 'write' },
    'reads silver keys, writes tombstones to bronze',
  ),
  jobLogin(
    'transform',
    { bronze: 'lock', ...BUILDS_MODELS, ops: 'write' },
    'builds silver, gold and pii from bronze',
    { memberOf: [MODEL_OWNER_ROLE] },
  ),
  jobLogin(
    'quality',
    { bronze: 'read', silver: 'read', gold: 'read', ops: 'write' },
    'checks every layer, writes findings',
  ),
  jobLogin(
    'watchdog',
    { bronze: 'read', silver: 'read', gold: 'read', ops: 'write', realtime: 'read' },
    'checks freshness and volumes, reconciles the real-time KPIs with gold, writes incidents and alerts',
  ),
  jobLogin('run', { ...LOADS_BATCHES, ...BUILDS_MODELS }, 'the whole batch DAG: what its steps write', {
    memberOf: [MODEL_OWNER_ROLE],
  }),
  jobLogin('quarantine', LOADS_BATCHES, 'replays quarantined rows into bronze'),
  jobLogin('batches', LOADS_BATCHES, 'retries or skips held-back batches'),
  jobLogin('backfill', LOADS_BATCHES, 're-extracts a window and loads it'),
  jobLogin('rebuild', ALL_LAYERS, 'rebuilds every layer from the lake', { memberOf: [MODEL_OWNER_ROLE] }),
];

/** The roles of the policy, by name; throws on an unknown one so a typo in a test or a membership is caught. */
export function roleOf(name: string, policy: readonly RolePolicy[] = ACCESS_POLICY): RolePolicy {
  const role = policy.find((candidate) => candidate.name === name);
  if (!role) throw new Error(`no role ${name} in the access policy`);
  return role;
}
