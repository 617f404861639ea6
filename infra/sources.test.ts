/**
 * The further sources (CRM_SOURCE_URL, HISTORY_SOURCE_URL, FX_SOURCE_URL) on both stacks under the mocks: each
 * configured source's credential is a platform secret only the jobs that connect to it may read, its URL names the
 * secret and holds none, and only those jobs get a way out to it; a source left unconfigured leaves no trace.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseFxUrl } from '../adapters/source/fx-http.ts';
import { parseHubSpotUrl } from '../adapters/source/hubspot.ts';
import { parseSnowflakeUrl } from '../adapters/source/snowflake.ts';
import { SOURCE_SETTINGS } from './adapter-urls.ts';
import type { PolicyDocument } from './aws-policies.ts';
import { SOURCE_SECRET_VALUES, SOURCES_CONFIG } from './testing/fixtures.ts';
import { type RecordedResource, startMockCloud } from './testing/mock-cloud.ts';
import { field, ofType } from './testing/resources.ts';
import type { DeployedStack } from './testing/stacks.ts';

const cloud = await startMockCloud();
const { deploy, specFor } = await import('./testing/stacks.ts');
const { manifestFromAws, manifestFromAzure, manifestFromSpec } = await import('./testing/manifest.ts');

const SOURCE_SECRETS = ['CRM_SOURCE_TOKEN', 'HISTORY_SOURCE_PASSWORD', 'FX_SOURCE_API_KEY'];
/** The jobs that connect to every further source: extract, and the hourly run whose first step it is. */
const CONNECTING = ['extract', 'run'];

let aws: DeployedStack;
let azure: DeployedStack;
let plainAws: DeployedStack;
let plainAzure: DeployedStack;
beforeAll(async () => {
  aws = await deploy(cloud, specFor('aws', undefined, SOURCES_CONFIG), SOURCES_CONFIG);
  azure = await deploy(cloud, specFor('azure', undefined, SOURCES_CONFIG), SOURCES_CONFIG);
  plainAws = await deploy(cloud, specFor('aws'));
  plainAzure = await deploy(cloud, specFor('azure'));
}, 120_000);

/** Each task definition's container environment, by job name. */
function awsEnvironments(stack: DeployedStack): Map<string, Record<string, string>> {
  return new Map(
    ofType(stack.resources, 'aws:ecs/taskDefinition:TaskDefinition').map((task) => {
      const [container] = JSON.parse(String(task.inputs.containerDefinitions)) as {
        command: string[];
        environment: { name: string; value: string }[];
      }[];
      return [
        container?.command[0] ?? '',
        Object.fromEntries((container?.environment ?? []).map((e) => [e.name, e.value])),
      ];
    }),
  );
}

function azureEnvironments(stack: DeployedStack): Map<string, Record<string, string>> {
  return new Map(
    [
      ...ofType(stack.resources, 'azure-native:app:Job'),
      ...ofType(stack.resources, 'azure-native:app:ContainerApp'),
    ].map((app) => {
      const container = field<Record<string, unknown>>(app.inputs, 'template', 'containers', 0);
      const env = (container.env as { name: string; value?: string }[] | undefined) ?? [];
      return [
        field<string[]>(container, 'args')[0] ?? '',
        Object.fromEntries(env.map((e) => [e.name, String(e.value ?? '')])),
      ];
    }),
  );
}

/** Who may read each secret on AWS: the task roles whose policy names its ARN. */
function awsReaders(stack: DeployedStack): Map<string, string[]> {
  const readers = new Map<string, string[]>();
  for (const policy of ofType(stack.resources, 'aws:iam/rolePolicy:RolePolicy').filter((p) =>
    p.name.endsWith('-task'),
  )) {
    const document = JSON.parse(String(policy.inputs.policy)) as PolicyDocument;
    for (const arn of document.Statement.find((s) => s.Sid === 'ReadJobSecrets')?.Resource ?? []) {
      const name = /:secret:ecomm-test\/(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1] ?? arn;
      const job = policy.name.replace(/^ecomm-test-/, '').replace(/-task$/, '');
      readers.set(name, [...(readers.get(name) ?? []), job].sort());
    }
  }
  return readers;
}

/** Who may read each secret on Azure: the identities with Key Vault Secrets User on it. */
function azureReaders(stack: DeployedStack): Map<string, string[]> {
  const identities = ofType(stack.resources, 'azure-native:managedidentity:UserAssignedIdentity');
  const secrets = ofType(stack.resources, 'azure-native:keyvault:Secret');
  const readers = new Map<string, string[]>();
  for (const assignment of ofType(stack.resources, 'azure-native:authorization:RoleAssignment')) {
    const secret = secrets.find((s) => s.id === assignment.inputs.scope);
    if (secret === undefined) continue;
    const identity = identities.find(
      (i) => `principal-${String(i.inputs.resourceName)}` === assignment.inputs.principalId,
    );
    const job = String(identity?.inputs.resourceName).replace(/^ecomm-test-/, '');
    const name = String(secret.inputs.secretName).replace(/-/g, '_');
    readers.set(name, [...(readers.get(name) ?? []), job].sort());
  }
  return readers;
}

/** The security groups a job's runs start its task in (its state machine's network configuration). */
function awsRunGroups(stack: DeployedStack, job: string): string[] {
  const run = ofType(stack.resources, 'aws:sfn/stateMachine:StateMachine').find(
    (r) => r.inputs.name === `ecomm-test-${job}-run`,
  );
  const groups = /"SecurityGroups":(\[[^\]]*\])/.exec(String(run?.inputs.definition))?.[1];
  return JSON.parse(groups ?? '[]') as string[];
}

const sourceGroups = (stack: DeployedStack): RecordedResource[] =>
  ofType(stack.resources, 'aws:ec2/securityGroup:SecurityGroup').filter((g) => g.name.endsWith('-source'));

const nsgRules = (stack: DeployedStack): Record<string, unknown>[] =>
  ofType(stack.resources, 'azure-native:network:NetworkSecurityGroup').flatMap(
    (nsg) => (nsg.inputs.securityRules as Record<string, unknown>[] | undefined) ?? [],
  );

describe('further sources, configured', () => {
  it('builds each URL from stack config, naming its secret and holding none, in the form its adapter reads', () => {
    for (const stack of [aws, azure]) {
      expect(stack.outputs.CRM_SOURCE_URL).toBe('hubspot://api.hubapi.com?tokenSecret=CRM_SOURCE_TOKEN');
      expect(stack.outputs.HISTORY_SOURCE_URL).toBe(
        'snowflake://acme-analytics/ANALYTICS/HISTORY?warehouse=EXTRACT_WH&user=ECOMM_READER&passwordSecret=HISTORY_SOURCE_PASSWORD',
      );
      expect(stack.outputs.FX_SOURCE_URL).toBe(
        'fxrates://openexchangerates.org/api?keySecret=FX_SOURCE_API_KEY&start=2024-01-01',
      );
      const crm = parseHubSpotUrl(String(stack.outputs.CRM_SOURCE_URL));
      expect(crm).toMatchObject({ basePath: 'https://api.hubapi.com', tokenSecret: 'CRM_SOURCE_TOKEN' });
      expect(parseSnowflakeUrl('HISTORY_SOURCE_URL', String(stack.outputs.HISTORY_SOURCE_URL))).toMatchObject(
        { account: 'acme-analytics', passwordSecret: 'HISTORY_SOURCE_PASSWORD' },
      );
      expect(parseFxUrl(String(stack.outputs.FX_SOURCE_URL))).toMatchObject({
        root: 'https://openexchangerates.org/api',
        keySecret: 'FX_SOURCE_API_KEY',
      });
      for (const url of [
        stack.outputs.CRM_SOURCE_URL,
        stack.outputs.HISTORY_SOURCE_URL,
        stack.outputs.FX_SOURCE_URL,
      ])
        for (const value of SOURCE_SECRET_VALUES) expect(url).not.toContain(value);
    }
  });

  it('puts no source credential in any task definition, container or URL', () => {
    const texts = [
      ...ofType(aws.resources, 'aws:ecs/taskDefinition:TaskDefinition').map((t) =>
        String(t.inputs.containerDefinitions),
      ),
      ...[
        ...ofType(azure.resources, 'azure-native:app:Job'),
        ...ofType(azure.resources, 'azure-native:app:ContainerApp'),
      ].map((a) => JSON.stringify(a.inputs.template)),
      ...Object.values(aws.outputs),
      ...Object.values(azure.outputs),
    ];
    for (const text of texts) for (const value of SOURCE_SECRET_VALUES) expect(text).not.toContain(value);
  });

  it('stores each credential in the secret store, under the name its URL gives', () => {
    const awsNames = ofType(aws.resources, 'aws:secretsmanager/secret:Secret').map((s) =>
      String(s.inputs.name),
    );
    const vaultNames = ofType(azure.resources, 'azure-native:keyvault:Secret').map((s) =>
      String(s.inputs.secretName),
    );
    for (const secret of SOURCE_SECRETS) {
      expect(awsNames).toContain(`ecomm-test/${secret}`);
      expect(vaultNames).toContain(secret.replace(/_/g, '-'));
    }
  });

  it('lets only the jobs that connect to a source read its secret: extract and run, not reconcile or backfill', () => {
    for (const readers of [awsReaders(aws), azureReaders(azure)]) {
      for (const secret of SOURCE_SECRETS) expect(readers.get(secret), secret).toEqual(CONNECTING);
    }
    for (const stack of [aws, azure]) {
      for (const source of stack.spec.sources) expect(source.workloads, source.setting).toEqual(CONNECTING);
    }
  });

  it('hands each setting to the jobs the catalog says read it, FX_SOURCE_URL also to reconcile and backfill', () => {
    for (const environments of [awsEnvironments(aws), azureEnvironments(azure)]) {
      for (const job of CONNECTING) {
        for (const setting of SOURCE_SETTINGS)
          expect(environments.get(job)?.[setting], `${job} ${setting}`).toBe(aws.outputs[setting]);
      }
      for (const job of ['reconcile', 'backfill']) {
        expect(environments.get(job)?.FX_SOURCE_URL, job).toBe(aws.outputs.FX_SOURCE_URL);
        expect(environments.get(job)?.CRM_SOURCE_URL, job).toBeUndefined();
        expect(environments.get(job)?.HISTORY_SOURCE_URL, job).toBeUndefined();
      }
      for (const [job, env] of environments) {
        if ([...CONNECTING, 'reconcile', 'backfill'].includes(job)) continue;
        for (const setting of SOURCE_SETTINGS) expect(env[setting], `${job} ${setting}`).toBeUndefined();
      }
    }
  });

  it('on AWS, gives each source an egress-only group to its ranges on 443, carried by the connecting jobs alone', () => {
    const groups = sourceGroups(aws);
    expect(groups.map((g) => g.name).sort()).toEqual(
      ['crm', 'fx', 'history'].map((name) => `ecomm-test-network-${name}-source`),
    );
    const rules = ofType(aws.resources, 'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule');
    expect(
      ofType(aws.resources, 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule').some((r) =>
        groups.some((g) => g.id === r.inputs.securityGroupId),
      ),
    ).toBe(false);
    for (const source of aws.spec.sources) {
      const group = groups.find((g) => g.name === `ecomm-test-network-${source.name}-source`);
      const own = rules.filter((r) => r.inputs.securityGroupId === group?.id);
      expect(
        own
          .map(
            (r) =>
              `${String(r.inputs.ipProtocol)}/${String(r.inputs.fromPort)}-${String(r.inputs.toPort)} -> ${String(r.inputs.cidrIpv4)}`,
          )
          .sort(),
      ).toEqual(source.egress.cidrs.map((cidr) => `tcp/443-443 -> ${cidr}`).sort());
    }
    const ids = groups.map((g) => g.id);
    for (const job of aws.spec.jobs) {
      const carried = awsRunGroups(aws, job.name).filter((id) => ids.includes(id));
      expect(carried.length, job.name).toBe(CONNECTING.includes(job.name) ? ids.length : 0);
    }
    for (const service of ofType(aws.resources, 'aws:ecs/service:Service')) {
      const groupsOf = field<string[]>(service.inputs, 'networkConfiguration', 'securityGroups');
      expect(
        groupsOf.some((id) => ids.includes(id)),
        service.name,
      ).toBe(false);
    }
  });

  it('on Azure, allows the apps subnet out to each source’s ranges on 443 before the internet is denied', () => {
    const rules = nsgRules(azure);
    const deny = rules.find((r) => r.name === 'deny-internet');
    for (const source of azure.spec.sources) {
      const rule = rules.find((r) => r.name === `to-${source.name}-source`);
      expect(rule, source.name).toMatchObject({
        access: 'Allow',
        direction: 'Outbound',
        protocol: 'Tcp',
        destinationPortRange: '443',
        destinationAddressPrefixes: source.egress.cidrs,
      });
      expect(Number(rule?.priority)).toBeLessThan(Number(deny?.priority));
    }
    expect(new Set(rules.map((r) => r.priority)).size).toBe(rules.length);
  });

  it('keeps both clouds at parity with each other and the spec, sources included', () => {
    const spec = manifestFromSpec(aws.spec);
    const onAws = manifestFromAws(aws.resources, aws.spec.prefix);
    const onAzure = manifestFromAzure(azure.resources, azure.spec.prefix);
    expect(onAws).toEqual(onAzure);
    expect(onAws).toEqual(spec);
    expect(onAws.sourceEgress.map((e) => e.name)).toEqual(['crm', 'fx', 'history']);
  });
});

describe('further sources, unconfigured', () => {
  it('stores no source secret, opens no way out and hands no job a source setting', () => {
    expect(plainAws.spec.sources).toEqual([]);
    expect(sourceGroups(plainAws)).toEqual([]);
    expect(nsgRules(plainAzure).filter((r) => /^to-(crm|history|fx)-source$/.test(String(r.name)))).toEqual(
      [],
    );
    const awsNames = ofType(plainAws.resources, 'aws:secretsmanager/secret:Secret').map((s) =>
      String(s.inputs.name),
    );
    const vaultNames = ofType(plainAzure.resources, 'azure-native:keyvault:Secret').map((s) =>
      String(s.inputs.secretName),
    );
    for (const secret of SOURCE_SECRETS) {
      expect(awsNames).not.toContain(`ecomm-test/${secret}`);
      expect(vaultNames).not.toContain(secret.replace(/_/g, '-'));
    }
    for (const environments of [awsEnvironments(plainAws), azureEnvironments(plainAzure)])
      for (const [job, env] of environments)
        for (const setting of SOURCE_SETTINGS) expect(env[setting], `${job} ${setting}`).toBeUndefined();
    for (const stack of [plainAws, plainAzure])
      for (const setting of SOURCE_SETTINGS) expect(stack.outputs[setting]).toBeUndefined();
  });
});
