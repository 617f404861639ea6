/** Security and operations policies, asserted on the resources both programs register. */
import { beforeAll, describe, expect, it } from 'vitest';
import { leastPrivilegeViolations, type PolicyDocument } from './aws-policies.ts';
import { LAKE_ROLE_DATA_ACTIONS, lakeAccessFromCondition } from './azure-lake-access.ts';
import {
  AZURE_ROLES,
  isBlobContainerScope,
  isKeyVaultSecretScope,
  isSingleResourceScope,
} from './azure-roles.ts';
import { hasPlatformTags } from './tags.ts';
import type { RecordedResource } from './testing/mock-cloud.ts';
import { startMockCloud } from './testing/mock-cloud.ts';
import { field, isTaggable, ofType, onlyOne } from './testing/resources.ts';
import type { DeployedStack } from './testing/stacks.ts';

const cloud = await startMockCloud();
const { deploy, specFor } = await import('./testing/stacks.ts');

let aws: DeployedStack;
let azure: DeployedStack;
beforeAll(async () => {
  aws = await deploy(cloud, specFor('aws'));
  azure = await deploy(cloud, specFor('azure'));
});

function policyOfTask(stack: DeployedStack, name: string): PolicyDocument {
  const found = stack.resources.find(
    (r) => r.name === `ecomm-test-${name}-task` && r.type === 'aws:iam/rolePolicy:RolePolicy',
  );
  return JSON.parse(String(found?.inputs.policy)) as PolicyDocument;
}

function untagged(stack: DeployedStack): string[] {
  return stack.resources
    .filter((r) => r.custom && isTaggable(r.type) && !hasPlatformTags(r.inputs.tags, stack.spec.tags))
    .map((r) => `${r.type} ${r.name}`);
}

describe('AWS policies', () => {
  const all = (type: string) => ofType(aws.resources, type);

  it('encrypts the lake with its own rotating KMS key', () => {
    const sse = onlyOne(
      aws.resources,
      'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
    );
    expect(field(sse.inputs, 'rules', 0, 'applyServerSideEncryptionByDefault', 'sseAlgorithm')).toBe(
      'aws:kms',
    );
    expect(onlyOne(aws.resources, 'aws:kms/key:Key').inputs.enableKeyRotation).toBe(true);
    expect(
      field(
        onlyOne(aws.resources, 'aws:ecr/repository:Repository').inputs,
        'encryptionConfigurations',
        0,
        'encryptionType',
      ),
    ).toBe('AES256');
  });

  it('accepts only TLS on the lake, the stream and the warehouse', () => {
    const bucketPolicy = JSON.parse(
      String(onlyOne(aws.resources, 'aws:s3/bucketPolicy:BucketPolicy').inputs.policy),
    );
    expect(bucketPolicy.Statement[0]).toMatchObject({
      Effect: 'Deny',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    expect(
      field(
        onlyOne(aws.resources, 'aws:msk/cluster:Cluster').inputs,
        'encryptionInfo',
        'encryptionInTransit',
      ),
    ).toEqual({ clientBroker: 'TLS', inCluster: true });
    expect(
      onlyOne(aws.resources, 'aws:redshiftserverless/workgroup:Workgroup').inputs.configParameters,
    ).toContainEqual({ parameterKey: 'require_ssl', parameterValue: 'true' });
    expect(aws.outputs.WAREHOUSE_URL).toContain('sslmode=require');
  });

  it('blocks public access on every lake bucket', () => {
    const buckets = all('aws:s3/bucket:Bucket');
    const blocks = all('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock');
    expect(blocks).toHaveLength(buckets.length);
    for (const block of blocks) {
      expect(block.inputs).toMatchObject({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
    }
  });

  it('keeps brokers, warehouse and tasks off the public internet', () => {
    expect(
      field(
        onlyOne(aws.resources, 'aws:msk/cluster:Cluster').inputs,
        'brokerNodeGroupInfo',
        'connectivityInfo',
        'publicAccess',
        'type',
      ),
    ).toBe('DISABLED');
    expect(
      onlyOne(aws.resources, 'aws:redshiftserverless/workgroup:Workgroup').inputs.publiclyAccessible,
    ).toBe(false);
    const services = all('aws:ecs/service:Service');
    expect(services.map((s) => s.inputs.name).sort()).toEqual(aws.spec.services.map((s) => s.name).sort());
    const privateSubnets = all('aws:ec2/subnet:Subnet')
      .filter((s) => s.name.includes('-private-'))
      .map((s) => s.id)
      .sort();
    expect(privateSubnets).toHaveLength(3);
    for (const service of services) {
      const network = field<Record<string, unknown>>(service.inputs, 'networkConfiguration');
      expect(network.assignPublicIp, String(service.inputs.name)).toBe(false);
      expect([...(network.subnets as string[])].sort(), String(service.inputs.name)).toEqual(privateSubnets);
    }
    // No load balancer, no rule admitting the internet: services take connections from the VPC at most.
    expect(all('aws:lb/loadBalancer:LoadBalancer')).toEqual([]);
    for (const rule of all('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')) {
      expect(
        rule.inputs.cidrIpv4 === undefined || rule.inputs.cidrIpv4 === aws.spec.network.cidr,
        rule.name,
      ).toBe(true);
    }
    for (const run of all('aws:sfn/stateMachine:StateMachine')) {
      expect(String(run.inputs.definition)).toContain('"AssignPublicIp":"DISABLED"');
    }
    expect(all('aws:ec2/subnet:Subnet').every((s) => s.inputs.mapPublicIpOnLaunch === false)).toBe(true);
  });

  it('lets job tasks out only to the VPC endpoints, the data services and the source: never the internet', () => {
    const rules = all('aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule');
    const groupNamed = (suffix: string) =>
      onlyOne(
        all('aws:ec2/securityGroup:SecurityGroup').filter((g) => g.name.endsWith(suffix)),
        'aws:ec2/securityGroup:SecurityGroup',
      ).id;
    const jobs = groupNamed('-network-jobs');
    const s3 = all('aws:ec2/vpcEndpoint:VpcEndpoint').find((e) => e.inputs.vpcEndpointType === 'Gateway');
    const destinations = rules.map((r) => {
      expect(r.inputs.securityGroupId, r.name).toBe(jobs);
      const to =
        r.inputs.referencedSecurityGroupId ?? r.inputs.prefixListId ?? r.inputs.cidrIpv4 ?? '(anywhere)';
      return `${r.inputs.ipProtocol}/${r.inputs.fromPort}-${r.inputs.toPort} -> ${String(to)}`;
    });
    expect(destinations.sort()).toEqual(
      [
        `tcp/443-443 -> ${groupNamed('-network-endpoints')}`,
        `tcp/443-443 -> ${String(s3?.state.prefixListId)}`,
        `tcp/9098-9098 -> ${groupNamed('-network-stream')}`,
        `tcp/5439-5439 -> ${groupNamed('-network-warehouse')}`,
        // The fixture's source has no range of its own: it is reached inside the VPC.
        `tcp/5432-5432 -> ${aws.spec.network.cidr}`,
      ].sort(),
    );
    expect(rules.some((r) => r.inputs.cidrIpv4 === '0.0.0.0/0' || r.inputs.ipProtocol === '-1')).toBe(false);
    const interfaces = all('aws:ec2/vpcEndpoint:VpcEndpoint').filter(
      (e) => e.inputs.vpcEndpointType === 'Interface',
    );
    expect(interfaces.map((e) => e.inputs.serviceName).sort()).toEqual(
      ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager'].map((svc) => `com.amazonaws.eu-west-1.${svc}`),
    );
    for (const endpoint of interfaces) {
      expect(endpoint.inputs).toMatchObject({
        privateDnsEnabled: true,
        securityGroupIds: [groupNamed('-network-endpoints')],
      });
    }
  });

  it('versions the lake', () => {
    expect(
      field(
        onlyOne(aws.resources, 'aws:s3/bucketVersioning:BucketVersioning').inputs,
        'versioningConfiguration',
        'status',
      ),
    ).toBe('Enabled');
  });

  it('sets a retention on every log group', () => {
    const groups = all('aws:cloudwatch/logGroup:LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.every((g) => g.inputs.retentionInDays === 30)).toBe(true);
  });

  it('tags every taggable resource with the platform tags', () => {
    expect(untagged(aws)).toEqual([]);
  });

  it('grants no wildcard actions and no "*" resources on data planes', () => {
    const policies = all('aws:iam/rolePolicy:RolePolicy');
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      expect(
        leastPrivilegeViolations(JSON.parse(String(policy.inputs.policy)) as PolicyDocument),
        policy.name,
      ).toEqual([]);
    }
    expect(all('aws:iam/role:Role').every((r) => r.inputs.managedPolicyArns === undefined)).toBe(true);
  });

  it('gives a job only the data its catalog settings name', () => {
    const policyOf = (name: string) =>
      JSON.parse(
        String(
          aws.resources.find(
            (r) => r.name === `ecomm-test-${name}-task` && r.type === 'aws:iam/rolePolicy:RolePolicy',
          )?.inputs.policy,
        ),
      ) as PolicyDocument;
    const actions = (name: string) => policyOf(name).Statement.flatMap((s) => s.Action);
    expect(actions('validate').some((a) => a.startsWith('kafka-cluster:'))).toBe(false);
    expect(actions('stream-ingest')).toContain('kafka-cluster:ReadData');
    const secretsOf = (name: string) =>
      policyOf(name).Statement.find((s) => s.Sid === 'ReadJobSecrets')?.Resource;
    expect(secretsOf('generate')).toEqual([expect.stringContaining('secret:ecomm-test/SOURCE_PASSWORD')]);
    expect(secretsOf('load')).toEqual([
      expect.stringContaining('secret:ecomm-test/ECOMM_LOAD_PASSWORD'),
      expect.stringContaining('secret:ecomm-test/PII_HASH_KEY'),
    ]);
  });

  it("grants no job the warehouse admin's secret, and each login's secret to its own workload alone", () => {
    const readers = new Map<string, string[]>();
    for (const policy of all('aws:iam/rolePolicy:RolePolicy').filter((p) => p.name.endsWith('-task'))) {
      const document = JSON.parse(String(policy.inputs.policy)) as PolicyDocument;
      for (const arn of document.Statement.find((s) => s.Sid === 'ReadJobSecrets')?.Resource ?? []) {
        expect(arn, policy.name).not.toContain('redshift!');
        readers.set(arn, [...(readers.get(arn) ?? []), policy.name]);
      }
    }
    for (const { secret, workload } of aws.spec.warehouse.logins) {
      const arn = [...readers.keys()].find((a) => a.includes(`secret:ecomm-test/${secret}`)) ?? '';
      expect(readers.get(arn), secret).toEqual([`ecomm-test-${workload}-task`]);
    }
  });

  it("confines each job's lake access to the prefixes its catalog entry names; no job may delete an object", () => {
    for (const workload of [...aws.spec.jobs, ...aws.spec.services]) {
      const policy = policyOfTask(aws, workload.name);
      const objects = policy.Statement.filter((s) => s.Action.some((a) => a.startsWith('s3:')));
      if (workload.lake === null) {
        expect(objects, workload.name).toEqual([]);
        continue;
      }
      const resourcesOf = (action: string) =>
        objects.filter((s) => s.Action.includes(action)).flatMap((s) => s.Resource);
      const bucket = String(resourcesOf('s3:PutObject')[0] ?? resourcesOf('s3:GetObject')[0]).split('/')[0];
      const under = (prefixes: string[]) => prefixes.map((p) => `${bucket}/${p}*`);
      expect(resourcesOf('s3:GetObject'), workload.name).toEqual(under(workload.lake.read));
      expect(resourcesOf('s3:PutObject'), workload.name).toEqual(under(workload.lake.write));
      expect(resourcesOf('s3:DeleteObject'), workload.name).toEqual(under(workload.lake.delete));
      expect(
        objects.flatMap((s) => s.Resource),
        workload.name,
      ).not.toContain(`${bucket}/*`);
    }
    const deleters = all('aws:iam/rolePolicy:RolePolicy')
      .filter((p) => String(p.inputs.policy).includes('s3:DeleteObject'))
      .map((p) => p.name.replace(/^ecomm-test-|-task$/g, ''))
      .sort();
    // Jobs supersede (a cleared decision, an emptied quarantine file) or write nothing (an empty repair): none deletes.
    expect(deleters).toEqual([]);
  });

  it('keeps the monitor to the warehouse its catalog settings name: no lake, no stream', () => {
    const policy = JSON.parse(
      String(
        aws.resources.find(
          (r) => r.name === 'ecomm-test-monitor-task' && r.type === 'aws:iam/rolePolicy:RolePolicy',
        )?.inputs.policy,
      ),
    ) as PolicyDocument;
    expect(policy.Statement.map((s) => s.Sid)).toEqual(['ReadJobSecrets']);
    expect(policy.Statement.flatMap((s) => s.Action).some((a) => a.startsWith('kafka'))).toBe(false);
    const secrets = policy.Statement.find((s) => s.Sid === 'ReadJobSecrets')?.Resource ?? [];
    expect(secrets).toContainEqual(expect.stringContaining('secret:ecomm-test/ECOMM_MONITOR_PASSWORD'));
    expect(secrets.some((arn) => arn.includes('redshift!'))).toBe(false);
    expect(secrets.some((arn) => arn.includes('SOURCE_PASSWORD'))).toBe(false);
    const monitor = aws.spec.services.find((s) => s.name === 'monitor');
    expect(monitor?.environment.STREAM_GROUP_ID).toBeUndefined();
    expect(monitor?.settings).not.toContain('STREAM_URL');
  });
});

describe('Azure policies', () => {
  const one = (type: string) => onlyOne(azure.resources, type).inputs;

  it('encrypts the lake with infrastructure encryption on top of service encryption', () => {
    expect(field(one('azure-native:storage:StorageAccount'), 'encryption')).toMatchObject({
      requireInfrastructureEncryption: true,
      services: { blob: { enabled: true } },
    });
  });

  it('accepts only TLS 1.2 or newer on the lake, the stream and the warehouse', () => {
    expect(one('azure-native:storage:StorageAccount')).toMatchObject({
      minimumTlsVersion: 'TLS1_2',
      enableHttpsTrafficOnly: true,
    });
    expect(one('azure-native:eventhub:Namespace').minimumTlsVersion).toBe('1.2');
    const settings = ofType(azure.resources, 'azure-native:dbforpostgresql:Configuration').map((c) => [
      c.inputs.configurationName,
      c.inputs.value,
    ]);
    expect(settings).toEqual(
      expect.arrayContaining([
        ['require_secure_transport', 'on'],
        ['ssl_min_protocol_version', 'TLSv1.2'],
      ]),
    );
  });

  it('blocks public access to the lake, the stream, the warehouse, the vault and the registry', () => {
    expect(one('azure-native:storage:StorageAccount')).toMatchObject({
      publicNetworkAccess: 'Disabled',
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
    });
    expect(one('azure-native:storage:BlobContainer').publicAccess).toBe('None');
    expect(one('azure-native:eventhub:Namespace').publicNetworkAccess).toBe('Disabled');
    expect(field(one('azure-native:dbforpostgresql:Server'), 'network', 'publicNetworkAccess')).toBe(
      'Disabled',
    );
    expect(field(one('azure-native:keyvault:Vault'), 'properties', 'publicNetworkAccess')).toBe('Disabled');
    expect(one('azure-native:containerregistry:Registry')).toMatchObject({
      sku: { name: 'Premium' },
      adminUserEnabled: false,
      anonymousPullEnabled: false,
      publicNetworkAccess: 'Disabled',
      networkRuleBypassOptions: 'None',
    });
    expect(field(one('azure-native:app:ManagedEnvironment'), 'vnetConfiguration', 'internal')).toBe(true);
  });

  it('lets the Container Apps subnet out only to the VNet, Entra ID, Azure Monitor and the platform images', () => {
    const nsg = onlyOne(azure.resources, 'azure-native:network:NetworkSecurityGroup');
    const apps = field<Record<string, unknown>[]>(one('azure-native:network:VirtualNetwork'), 'subnets').find(
      (subnet) => subnet.name === 'apps',
    );
    expect(field(apps, 'networkSecurityGroup', 'id')).toBe(nsg.id);
    type Rule = { access: string; direction: string; destinationAddressPrefix: string; priority: number };
    const rules = field<Rule[]>(nsg.inputs, 'securityRules');
    expect(rules.every((r) => r.direction === 'Outbound')).toBe(true);
    expect(rules.filter((r) => r.access === 'Allow').map((r) => r.destinationAddressPrefix)).toEqual([
      'VirtualNetwork',
      'AzureActiveDirectory',
      'AzureMonitor',
      'MicrosoftContainerRegistry',
      'AzureFrontDoor.FirstParty',
    ]);
    const deny = rules.find((r) => r.access === 'Deny');
    expect(deny).toMatchObject({ destinationAddressPrefix: 'Internet' });
    expect(Math.max(...rules.filter((r) => r.access === 'Allow').map((r) => r.priority))).toBeLessThan(
      deny?.priority ?? 0,
    );
  });

  it('reaches the lake, the stream, the vault and the registry through private endpoints', () => {
    const targets = ofType(azure.resources, 'azure-native:network:PrivateEndpoint').map(
      (e) => field<string[]>(e.inputs, 'privateLinkServiceConnections', 0, 'groupIds')[0],
    );
    expect(targets.sort()).toEqual(['blob', 'namespace', 'registry', 'vault']);
  });

  it('versions the lake and keeps deleted blobs for a week', () => {
    expect(one('azure-native:storage:BlobServiceProperties')).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 7 },
    });
  });

  it('sets a retention on the log workspace', () => {
    expect(one('azure-native:operationalinsights:Workspace').retentionInDays).toBe(30);
  });

  it('authorizes Key Vault with RBAC and protects it from purge', () => {
    expect(field(one('azure-native:keyvault:Vault'), 'properties')).toMatchObject({
      enableRbacAuthorization: true,
      enablePurgeProtection: true,
    });
  });

  it('tags every taggable resource with the platform tags', () => {
    expect(untagged(azure)).toEqual([]);
  });

  it('scopes every role assignment to one resource of the kind the role is for, secrets one by one', () => {
    const assignments = ofType(azure.resources, 'azure-native:authorization:RoleAssignment');
    expect(assignments.length).toBeGreaterThan(0);
    const kindOf = (scope: string) =>
      azure.resources.find((r: RecordedResource) => r.custom && r.id === scope)?.type;
    const lakeRole = onlyOne(azure.resources, 'azure-native:authorization:RoleDefinition');
    const kindFor: Record<string, string> = {
      [String(lakeRole.id).split('/').pop() as string]: 'azure-native:storage:BlobContainer',
      [AZURE_ROLES.eventHubsDataSender]: 'azure-native:eventhub:Namespace',
      [AZURE_ROLES.eventHubsDataReceiver]: 'azure-native:eventhub:Namespace',
      [AZURE_ROLES.keyVaultSecretsUser]: 'azure-native:keyvault:Secret',
      [AZURE_ROLES.acrPull]: 'azure-native:containerregistry:Registry',
    };
    const principals = ofType(azure.resources, 'azure-native:managedidentity:UserAssignedIdentity').map(
      (i) => `principal-${i.inputs.resourceName}`,
    );
    for (const assignment of assignments) {
      const scope = String(assignment.inputs.scope);
      const role = String(assignment.inputs.roleDefinitionId).split('/').pop() as string;
      const kind = kindFor[role];
      expect(kind, `role ${role}`).toBeDefined();
      expect(kindOf(scope), assignment.name).toBe(kind);
      const single =
        role === AZURE_ROLES.keyVaultSecretsUser
          ? isKeyVaultSecretScope
          : kind === 'azure-native:storage:BlobContainer'
            ? isBlobContainerScope
            : isSingleResourceScope;
      expect(single(scope), scope).toBe(true);
      expect(principals, assignment.name).toContain(assignment.inputs.principalId);
    }
  });

  it('gives the lake role blob data actions only, and each workload its own identity confined to its prefixes', () => {
    const lakeRole = onlyOne(azure.resources, 'azure-native:authorization:RoleDefinition');
    // No workload deletes in the lake, so the role holds no delete data action at all.
    expect(lakeRole.inputs.permissions).toEqual([
      {
        actions: [],
        notActions: [],
        dataActions: LAKE_ROLE_DATA_ACTIONS.filter((action) => !action.endsWith('/blobs/delete')),
        notDataActions: [],
      },
    ]);
    expect(LAKE_ROLE_DATA_ACTIONS.some((a) => a.endsWith('/*') || a.includes('containers/delete'))).toBe(
      false,
    );
    const identities = ofType(azure.resources, 'azure-native:managedidentity:UserAssignedIdentity');
    const workloads = [...azure.spec.jobs, ...azure.spec.services];
    expect(identities).toHaveLength(workloads.length);
    const container = onlyOne(azure.resources, 'azure-native:storage:BlobContainer');
    const lakeAssignments = ofType(azure.resources, 'azure-native:authorization:RoleAssignment').filter(
      (a) => a.inputs.roleDefinitionId === lakeRole.id,
    );
    for (const workload of workloads) {
      const principal = `principal-ecomm-test-${workload.name}`;
      const mine = lakeAssignments.filter((a) => a.inputs.principalId === principal);
      if (workload.lake === null) {
        expect(mine, workload.name).toEqual([]);
        continue;
      }
      expect(mine, workload.name).toHaveLength(1);
      expect(mine[0]?.inputs.scope).toBe(container.id);
      expect(mine[0]?.inputs.conditionVersion).toBe('2.0');
      expect(lakeAccessFromCondition(String(mine[0]?.inputs.condition)), workload.name).toEqual(
        workload.lake,
      );
    }
    // Nothing holds a built-in storage role that would reach the whole account or container unconditioned.
    expect(
      ofType(azure.resources, 'azure-native:authorization:RoleAssignment').some((a) =>
        String(a.inputs.roleDefinitionId).endsWith(AZURE_ROLES.storageBlobDataContributor),
      ),
    ).toBe(false);
  });

  it('reaches Event Hubs through Entra ID only, with local (shared key) auth disabled', () => {
    expect(one('azure-native:eventhub:Namespace').disableLocalAuth).toBe(true);
    expect(ofType(azure.resources, 'azure-native:eventhub:NamespaceAuthorizationRule')).toEqual([]);
    expect(azure.outputs.STREAM_URL).toMatch(/\?auth=entra$/);
    expect(
      ofType(azure.resources, 'azure-native:keyvault:Secret').some((s) =>
        String(s.inputs.secretName).includes('EVENTHUBS'),
      ),
    ).toBe(false);
  });
});

describe('egress to an OLTP source outside the network', () => {
  it('opens the Azure apps subnet only to the source port in the source range beyond the network', async () => {
    const { appsEgressRules } = await import('./azure/network.ts');
    const rules = appsEgressRules({ cidr: '192.168.10.0/24', port: 5432 });
    expect(rules.find((r) => r.name === 'to-oltp-source')).toMatchObject({
      access: 'Allow',
      protocol: 'Tcp',
      destinationAddressPrefix: '192.168.10.0/24',
      destinationPortRange: '5432',
    });
    expect(
      rules.some(
        (r) =>
          r.access === 'Allow' && ['*', 'Internet', '0.0.0.0/0'].includes(r.destinationAddressPrefix ?? ''),
      ),
    ).toBe(false);
  });
});
