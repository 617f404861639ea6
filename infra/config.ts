/**
 * Stack configuration: every key the program reads, validated up front so a typo or a bad value
 * stops `pulumi up` with the key's full name (`ecomm-data-platform:lake.rawRetentionDays`) before
 * any resource is touched. Secrets are validated for presence here and stay out of the spec.
 */
import { z } from 'zod';
import { SIZE_TIERS } from './sizing.ts';

export const PROJECT = 'ecomm-data-platform';

/** Log retention values both CloudWatch Logs and Log Analytics accept. */
export const LOG_RETENTION_DAYS = [30, 60, 90, 120, 150, 180, 365, 400, 545] as const;

const days = z.number().int().min(1).max(3650);

const settingsSchema = z.strictObject({
  cloud: z.enum(['aws', 'azure']),
  environment: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,7}$/, 'use 2-8 lowercase letters or digits, starting with a letter'),
  owner: z.string().min(1),
  costCenter: z.string().min(1),
  alertEmails: z.array(z.email()).min(1, 'name at least one alert contact'),
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
  }),
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
  piiHashKey: z.string().min(32, 'use at least 32 characters of random key material'),
  sourcePassword: z.string().min(1),
  warehouseAdminPassword: z.string().min(16).optional(),
});

export type StackSettings = z.infer<typeof settingsSchema>;

export interface StackConfig extends StackSettings {
  project: string;
  stack: string;
  /** `aws:region` on AWS, `azure-native:location` on Azure. */
  region: string;
}

export class StackConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}

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

/** Validates the stack's whole config map (as `pulumi.runtime.allConfig()` returns it). */
export function parseStackConfig(raw: Record<string, string>, stack: string, project = PROJECT): StackConfig {
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith(`${project}:`)) own[key.slice(project.length + 1)] = decode(value);
  }
  const problems: string[] = [];
  const parsed = settingsSchema.safeParse(own);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push(`${project}:${[...issue.path, key].join('.')}: unknown key`);
      } else {
        const what =
          own[String(issue.path[0])] === undefined && issue.path.length === 1 ? 'required' : issue.message;
        problems.push(`${project}:${issue.path.join('.')}: ${what}`);
      }
    }
    throw new StackConfigError(problems);
  }
  const settings = parsed.data;
  const regionKey = settings.cloud === 'aws' ? 'aws:region' : 'azure-native:location';
  const region = raw[regionKey];
  if (region === undefined || region === '')
    problems.push(`${regionKey}: required for the ${settings.cloud} stack`);
  problems.push(...cloudProblems(settings, project, region ?? ''));
  if (problems.length > 0) throw new StackConfigError(problems);
  return { ...settings, project, stack, region: region ?? '' };
}

function cloudProblems(settings: StackSettings, project: string, region: string): string[] {
  const problems: string[] = [];
  if (settings.cloud === 'aws') {
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
