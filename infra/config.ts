/**
 * Stack configuration: every key the program reads, validated up front so a typo or a bad value
 * stops `pulumi up` with the key's full name (`ecomm-data-platform:lake.rawRetentionDays`) before
 * any resource is touched. The cloud and the environment come from the stack name (stack-name.ts);
 * the stack's own settings are merged over the settings its cloud's stacks share. Secrets are
 * validated for presence here and stay out of the spec.
 */
import { z } from 'zod';
import { SIZE_TIERS } from './sizing.ts';
import {
  type Cloud,
  cloudDefaultsFileName,
  parseStackName,
  StackNameError,
  stackFileName,
} from './stack-name.ts';

export const PROJECT = 'ecomm-data-platform';

/** Log retention values both CloudWatch Logs and Log Analytics accept. */
export const LOG_RETENTION_DAYS = [30, 60, 90, 120, 150, 180, 365, 400, 545] as const;

const days = z.number().int().min(1).max(3650);

const hostName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i,
    'a DNS name without scheme, port or path',
  );

/**
 * Where a SaaS source answers, for the extract job's egress (HTTPS, 443): the ranges its host names resolve into.
 * Neither a security group nor an NSG can name a host, so the operator lists the ranges the vendor publishes.
 */
const sourceEgress = z.strictObject({
  cidrs: z.array(z.cidrv4()).min(1, 'list the ranges the source answers from'),
});

const settingsSchema = z.strictObject({
  owner: z.string().min(1),
  costCenter: z.string().min(1),
  alertEmails: z.array(z.email()).min(1, 'name at least one alert contact'),
  /**
   * Host names people reach the monitor by (a private DNS name, say): its Host-header allow-list
   * (MONITOR_ALLOWED_HOSTS). Without them it answers only loopback names, i.e. through a port forward.
   */
  monitorHostNames: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
          'a DNS name without port or wildcard',
        ),
    )
    .default([]),
  imageTag: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'not a valid image tag')
    .refine((tag) => tag !== 'latest', 'registries use immutable tags: pin a version, not "latest"'),
  lake: z
    .strictObject({
      rawRetentionDays: days.default(365),
      stagingRetentionDays: days.default(30),
      quarantineRetentionDays: days.default(90),
      noncurrentVersionDays: days.default(30),
    })
    .default({
      rawRetentionDays: 365,
      stagingRetentionDays: 30,
      quarantineRetentionDays: 90,
      noncurrentVersionDays: 30,
    }),
  stream: z
    .strictObject({
      size: z.enum(SIZE_TIERS).default('small'),
      // Event Hubs Standard keeps events at most 7 days; the same cap keeps MSK in step.
      retentionHours: z.number().int().min(1).max(168).default(168),
      serviceReplicas: z.number().int().min(1).max(32).default(1),
    })
    .default({ size: 'small', retentionHours: 168, serviceReplicas: 1 }),
  warehouse: z
    .strictObject({
      size: z.enum(SIZE_TIERS).default('small'),
      database: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .default('ecomm'),
    })
    .default({ size: 'small', database: 'ecomm' }),
  source: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    /**
     * The range the source's address is in: the jobs' only egress outside the cloud's own services (AWS security
     * group). Unset: the source is inside the VPC (or reached through it), and the jobs reach only the VPC range.
     */
    cidr: z.cidrv4().optional(),
  }),
  /** The CRM (HubSpot): CRM_SOURCE_URL, the token `crmSourceToken`. Unset: no CRM, no secret, no egress. */
  crmSource: z
    .strictObject({
      host: hostName.default('api.hubapi.com'),
      egress: sourceEgress,
    })
    .optional(),
  /** Historical analytics in Snowflake: HISTORY_SOURCE_URL, the password `historySourcePassword`. */
  historySource: z
    .strictObject({
      /** The account identifier: `<org>-<account>` or `<locator>.<region>`, as in `<account>.snowflakecomputing.com`. */
      account: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a Snowflake account identifier'),
      database: z.string().min(1),
      schema: z.string().min(1),
      warehouse: z.string().min(1),
      user: z.string().min(1),
      role: z.string().min(1).optional(),
      egress: sourceEgress,
    })
    .optional(),
  /** The FX rates vendor: FX_SOURCE_URL (fx_rates from it, not SOURCE_URL), the API key `fxSourceApiKey`. */
  fxSource: z
    .strictObject({
      host: hostName,
      path: z
        .string()
        .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'a URL path such as /api')
        .default(''),
      start: z.iso.date(),
      base: z
        .string()
        .regex(/^[A-Z]{3}$/, 'a 3-letter currency code')
        .optional(),
      egress: sourceEgress,
    })
    .optional(),
  network: z
    .strictObject({
      cidr: z.cidrv4().default('10.40.0.0/16'),
      availabilityZones: z.array(z.string().min(1)).min(1).optional(),
    })
    .default({ cidr: '10.40.0.0/16' }),
  logRetentionDays: z.coerce
    .number()
    .refine((value) => (LOG_RETENTION_DAYS as readonly number[]).includes(value), {
      error: `use one of ${LOG_RETENTION_DAYS.join(', ')} (values both CloudWatch and Log Analytics accept)`,
    })
    .default(30),
  /**
   * Deploy the jobs that write synthetic data into the source and the production topics (`generate`): off unless
   * a stack asks, for a demo or test environment.
   */
  deploySeedJobs: z.stringbool({ error: 'use true or false' }).default(false),
  piiHashKey: z.string().min(32, 'use at least 32 characters of random key material'),
  /** Key the warehouse logins' passwords are derived from (infra/warehouse-logins.ts); rotate it to rotate them. */
  warehouseLoginKey: z.string().min(32, 'use at least 32 characters of random key material'),
  sourcePassword: z.string().min(1),
  /** The HubSpot private-app token (read scopes only: extract never writes to the CRM). */
  crmSourceToken: z.string().min(1).optional(),
  historySourcePassword: z.string().min(1).optional(),
  fxSourceApiKey: z.string().min(1).optional(),
  warehouseAdminPassword: z.string().min(16).optional(),
});

export type StackSettings = z.infer<typeof settingsSchema>;

export interface StackConfig extends StackSettings {
  project: string;
  stack: string;
  /** From the stack name: `aws-prod` deploys to aws. */
  cloud: Cloud;
  /** From the stack name: `aws-prod` is prod; resource names start `ecomm-<environment>`. */
  environment: string;
  /** `aws:region` on AWS, `azure-native:location` on Azure. */
  region: string;
}

/** Where a stack's settings come from besides its own config. */
export interface StackConfigSources {
  /**
   * The settings every stack of the cloud shares (its cloudDefaultsFileName file), in the form the
   * stack's own config has; the stack's own settings win, object by object.
   */
  cloudDefaults?: (cloud: Cloud) => Record<string, string>;
  project?: string;
}

export class StackConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}

/** Keys the stack name decides; a stack file that sets them is contradicting (or repeating) its name. */
const KEYS_FROM_STACK_NAME = ['cloud', 'environment'] as const;

/** Config values arrive as strings; objects and arrays are JSON. */
function decode(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `override` over `base`: objects merge key by key; anything else, lists included, replaces. */
function mergeSettings(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeSettings(base[key], value);
  return merged;
}

/** The project's own keys of a config map, without the `project:` namespace, values decoded. */
function projectSettings(raw: Record<string, string>, project: string): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith(`${project}:`)) own[key.slice(project.length + 1)] = decode(value);
  }
  return own;
}

/** Validates the stack's whole config map (as `pulumi.runtime.allConfig()` returns it). */
export function parseStackConfig(
  raw: Record<string, string>,
  stack: string,
  sources: StackConfigSources = {},
): StackConfig {
  const project = sources.project ?? PROJECT;
  const { cloud, environment } = stackNameOf(stack);
  const defaults = sources.cloudDefaults?.(cloud) ?? {};
  const problems = sharedFileProblems(defaults, project, cloud, stack);
  const own = mergeSettings(projectSettings(defaults, project), projectSettings(raw, project)) as Record<
    string,
    unknown
  >;
  problems.push(...removeKeysFromStackName(own, project, stack));
  const parsed = settingsSchema.safeParse(own);
  if (!parsed.success)
    throw new StackConfigError([...problems, ...schemaProblems(parsed.error, own, project)]);
  const regionKey = cloud === 'aws' ? 'aws:region' : 'azure-native:location';
  const region = raw[regionKey] ?? '';
  if (region === '')
    problems.push(`${regionKey}: required for the ${cloud} stack (in ${stackFileName(stack)})`);
  problems.push(...cloudProblems(parsed.data, cloud, project, region));
  problems.push(...sourceProblems(parsed.data, project));
  if (problems.length > 0) throw new StackConfigError(problems);
  return { ...parsed.data, project, stack, cloud, environment, region };
}

/** Drops the keys the stack name decides from the settings, with a problem for each one that was set. */
function removeKeysFromStackName(own: Record<string, unknown>, project: string, stack: string): string[] {
  const { cloud, environment } = parseStackName(stack);
  return KEYS_FROM_STACK_NAME.filter((key) => own[key] !== undefined).map((key) => {
    delete own[key];
    return `${project}:${key}: comes from the stack name (${stack}: cloud ${cloud}, environment ${environment}); remove it`;
  });
}

function stackNameOf(stack: string): ReturnType<typeof parseStackName> {
  try {
    return parseStackName(stack);
  } catch (error) {
    if (error instanceof StackNameError) throw new StackConfigError([error.message]);
    throw error;
  }
}

/** Each schema issue as `<project>:<dotted key>: <what is wrong>`. */
function schemaProblems(error: z.ZodError, own: Record<string, unknown>, project: string): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => `${project}:${[...issue.path, key].join('.')}: unknown key`);
    const missing = own[String(issue.path[0])] === undefined && issue.path.length === 1;
    return [`${project}:${issue.path.join('.')}: ${missing ? 'required' : issue.message}`];
  });
}

/**
 * What the shared file cannot hold: provider settings (a provider reads only the stack's own file)
 * and secrets (their ciphertext belongs to one stack's key).
 */
function sharedFileProblems(
  defaults: Record<string, string>,
  project: string,
  cloud: Cloud,
  stack: string,
): string[] {
  const file = cloudDefaultsFileName(cloud);
  return Object.entries(defaults).flatMap(([key, value]) => {
    if (!key.startsWith(`${project}:`))
      return [`${key}: set in ${file}, which providers never read; set it in ${stackFileName(stack)}`];
    if (holdsSecret(decode(value)))
      return [
        `${key}: a secret cannot be shared through ${file}; set it per stack with pulumi config set --secret`,
      ];
    return [];
  });
}

/** Pulumi writes an encrypted value as `{ secure: <ciphertext> }`. */
function holdsSecret(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsSecret);
  if (!isPlainObject(value)) return false;
  return 'secure' in value || Object.values(value).some(holdsSecret);
}

/** Each optional source and the secret config holding its credential, by key. */
export const SOURCE_SECRET_KEYS = {
  crmSource: 'crmSourceToken',
  historySource: 'historySourcePassword',
  fxSource: 'fxSourceApiKey',
} as const;

/** A configured source needs its credential; a credential without its source would be stored for no one. */
function sourceProblems(settings: StackSettings, project: string): string[] {
  return Object.entries(SOURCE_SECRET_KEYS).flatMap(([source, secret]) => {
    const configured = settings[source as keyof typeof SOURCE_SECRET_KEYS] !== undefined;
    const given = settings[secret] !== undefined;
    if (configured && !given)
      return [
        `${project}:${secret}: required with ${source} (pulumi config set --secret ${project}:${secret} …)`,
      ];
    if (!configured && given)
      return [`${project}:${secret}: set, but ${source} is not configured; remove it`];
    return [];
  });
}

function cloudProblems(settings: StackSettings, cloud: Cloud, project: string, region: string): string[] {
  const problems: string[] = [];
  if (cloud === 'aws') {
    const zones = settings.network.availabilityZones;
    if (zones?.length !== 3) {
      problems.push(
        `${project}:network.availabilityZones: name 3 zones on aws (Redshift Serverless needs subnets in three)`,
      );
    } else if (region !== '' && zones.some((zone) => !zone.startsWith(region))) {
      problems.push(`${project}:network.availabilityZones: every zone must be in ${region}`);
    }
    if (settings.warehouseAdminPassword !== undefined) {
      problems.push(
        `${project}:warehouseAdminPassword: not used on aws (Redshift manages the admin password); remove it`,
      );
    }
  } else if (settings.warehouseAdminPassword === undefined) {
    problems.push(
      `${project}:warehouseAdminPassword: required on azure (pulumi config set --secret warehouseAdminPassword)`,
    );
  }
  return problems;
}
