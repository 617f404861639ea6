/**
 * A fake cloud for `pulumi.runtime.setMocks`: records every resource the program registers and
 * answers with plausible outputs (ARNs, Azure resource IDs, endpoints) so URLs and policies can be
 * asserted, and records each registration's parent and dependencies as the engine would receive
 * them. Call startMockCloud() before importing any program module.
 */
import * as pulumi from '@pulumi/pulumi';

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
  id: string;
  state: Record<string, unknown>;
}

/** A registration as the engine receives it; URNs are the mock monitor's (see testing/targets.ts). */
export interface Registration {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  /** The parent's URN, '' for the stack itself. */
  parent: string;
  /** Every resource it depends on: dependsOn, the resources its inputs came from, deletedWith. */
  dependencies: string[];
}

export const ACCOUNT = '123456789012';
export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const REGION = 'eu-west-1';

type Inputs = Record<string, unknown>;
const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' && value !== '' ? value : fallback;

/** Outputs the provider would compute, for the AWS resources whose outputs the program reads. */
function awsState(type: string, name: string, inputs: Inputs): Inputs {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  switch (type) {
    case 'aws:s3/bucket:Bucket': {
      const bucket = `${text(inputs.bucketPrefix, 'bucket-')}mock`;
      return { bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case 'aws:kms/key:Key':
      return { arn: arn('kms', `key/${name}`), keyId: `key-${name}` };
    case 'aws:msk/configuration:Configuration':
      return { arn: arn('kafka', `configuration/${text(inputs.name, name)}/uuid`), latestRevision: 1 };
    case 'aws:msk/cluster:Cluster':
      return {
        arn: arn('kafka', `cluster/${text(inputs.clusterName, name)}/uuid-1`),
        bootstrapBrokersSaslIam:
          'b-1.mock.kafka.eu-west-1.amazonaws.com:9098,b-2.mock.kafka.eu-west-1.amazonaws.com:9098',
      };
    case 'aws:redshiftserverless/namespace:Namespace':
      return {
        adminPasswordSecretArn: arn(
          'secretsmanager',
          `secret:redshift!${text(inputs.namespaceName, name)}-admin-AbCdEf`,
        ),
      };
    case 'aws:redshiftserverless/workgroup:Workgroup':
      return {
        endpoints: [
          {
            address: `${text(inputs.workgroupName, name)}.${ACCOUNT}.${REGION}.redshift-serverless.amazonaws.com`,
            port: 5439,
          },
        ],
      };
    case 'aws:ecr/repository:Repository':
      return {
        arn: arn('ecr', `repository/${text(inputs.name, name)}`),
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${text(inputs.name, name)}`,
      };
    case 'aws:ec2/vpcEndpoint:VpcEndpoint':
      return { arn: arn('ec2', `vpc-endpoint/${name}`), prefixListId: `pl-${name}` };
    case 'aws:ecs/cluster:Cluster':
      return { arn: arn('ecs', `cluster/${text(inputs.name, name)}`) };
    case 'aws:ecs/taskDefinition:TaskDefinition': {
      const family = arn('ecs', `task-definition/${text(inputs.family, name)}`);
      return { arn: `${family}:1`, arnWithoutRevision: family };
    }
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::${ACCOUNT}:role/${text(inputs.name, name)}` };
    case 'aws:secretsmanager/secret:Secret':
      return { arn: arn('secretsmanager', `secret:${text(inputs.name, name)}-AbCdEf`) };
    case 'aws:sfn/stateMachine:StateMachine':
      return { arn: arn('states', `stateMachine:${text(inputs.name, name)}`) };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { arn: arn('logs', `log-group:${text(inputs.name, name)}`) };
    default:
      return { arn: arn(type.split(':')[1]?.split('/')[0] ?? 'mock', name) };
  }
}

/** Which input holds an azure-native resource's own name (others name its parents). */
const AZURE_NAME_KEYS: Record<string, string> = {
  StorageAccount: 'accountName',
  BlobServiceProperties: 'blobServicesName',
  BlobContainer: 'containerName',
  Server: 'serverName',
  Vault: 'vaultName',
  Secret: 'secretName',
  Namespace: 'namespaceName',
  NamespaceAuthorizationRule: 'authorizationRuleName',
  UserAssignedIdentity: 'resourceName',
  ManagedEnvironment: 'environmentName',
  MetricAlert: 'ruleName',
  ScheduledQueryRule: 'ruleName',
};

/** The input holding the own name of an azure-native resource of this kind (`StorageAccount`). */
export function azureNameKey(kind: string): string {
  return AZURE_NAME_KEYS[kind] ?? `${kind.charAt(0).toLowerCase()}${kind.slice(1)}Name`;
}

function azureName(kind: string, inputs: Inputs, fallback: string): string {
  return text(inputs[azureNameKey(kind)], fallback);
}

/** Azure resource IDs shaped like ARM's, so role-assignment scopes can be checked. */
function azureState(type: string, name: string, inputs: Inputs): Inputs {
  const [, module = 'mock', kind = 'Resource'] = type.split(':');
  const resourceName = azureName(kind, inputs, name);
  const group = text(inputs.resourceGroupName, 'rg-mock');
  const id = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${group}/providers/Microsoft.${module}/${kind}/${resourceName}`;
  const state: Inputs = { id, name: resourceName };
  switch (type) {
    case 'azure-native:resources:ResourceGroup':
      return { id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${resourceName}`, name: resourceName };
    case 'azure-native:dbforpostgresql:Server':
      return { ...state, fullyQualifiedDomainName: `${resourceName}.postgres.database.azure.com` };
    case 'azure-native:containerregistry:Registry':
      return { ...state, loginServer: `${resourceName}.azurecr.io` };
    case 'azure-native:keyvault:Vault':
      return { ...state, properties: { vaultUri: `https://${resourceName}.vault.azure.net/` } };
    case 'azure-native:keyvault:Secret': {
      // A secret is a child of its vault in ARM: role assignments scoped to it name both.
      const vault = text(inputs.vaultName, 'vault');
      return {
        ...state,
        id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${group}/providers/Microsoft.KeyVault/vaults/${vault}/secrets/${resourceName}`,
        properties: { secretUri: `https://${vault}.vault.azure.net/secrets/${resourceName}` },
      };
    }
    case 'azure-native:storage:BlobContainer':
      return {
        ...state,
        id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${group}/providers/Microsoft.Storage/storageAccounts/${text(inputs.accountName, 'account')}/blobServices/default/containers/${resourceName}`,
      };
    case 'azure-native:authorization:RoleDefinition':
      // A custom role lives where it is defined, named by its GUID.
      return {
        ...state,
        id: `${text(inputs.scope, `/subscriptions/${SUBSCRIPTION}`)}/providers/Microsoft.Authorization/roleDefinitions/${text(inputs.roleDefinitionId, name)}`,
      };
    case 'azure-native:managedidentity:UserAssignedIdentity':
      return { ...state, principalId: `principal-${resourceName}`, clientId: `client-${resourceName}` };
    case 'azure-native:operationalinsights:Workspace':
      return { ...state, customerId: `customer-${resourceName}` };
    default:
      return state;
  }
}

export class MockCloud {
  resources: RecordedResource[] = [];
  registrations: Registration[] = [];

  reset(): void {
    this.resources = [];
    this.registrations = [];
  }

  custom(): RecordedResource[] {
    return this.resources.filter((r) => r.custom);
  }

  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** Waits until every registration the program started has reached the mock. */
  async settle(): Promise<void> {
    let count = -1;
    while (count !== this.resources.length) {
      count = this.resources.length;
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** Starts the mocks for a stack; its name is what `pulumi.getStack()` returns to the program. */
export async function startMockCloud(stack = 'aws-test'): Promise<MockCloud> {
  const cloud = new MockCloud();
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const inputs = args.inputs as Inputs;
        const computed = args.type.startsWith('azure-native:')
          ? azureState(args.type, args.name, inputs)
          : awsState(args.type, args.name, inputs);
        const id = typeof computed.id === 'string' ? computed.id : `${args.name}-id`;
        const state = { ...inputs, ...computed };
        cloud.resources.push({
          type: args.type,
          name: args.name,
          inputs,
          custom: args.custom ?? true,
          id,
          state,
        });
        return { id, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        switch (args.token) {
          case 'azure-native:authorization:getClientConfig':
            return {
              subscriptionId: SUBSCRIPTION,
              tenantId: 'tenant-1',
              clientId: 'client-1',
              objectId: 'object-1',
            };
          case 'azure-native:eventhub:listNamespaceKeys':
            return {
              primaryConnectionString:
                'Endpoint=sb://mock.servicebus.windows.net/;SharedAccessKeyName=jobs;SharedAccessKey=mock',
            };
          case 'azure-native:operationalinsights:getSharedKeys':
            return { primarySharedKey: 'mock-shared-key' };
          default:
            return {};
        }
      },
    },
    'ecomm-data-platform',
    stack,
    false,
  );
  recordRegistrations(cloud);
  return cloud;
}

/** The parts of a RegisterResourceRequest (the SDK's protobuf message) the engine checks targets with. */
interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getDeletedwith(): string;
}

/** The SDK's MockMonitor: `setMocks` hands it every registration; MockResourceArgs carry no parent or dependencies. */
interface MockMonitor {
  registerResource(request: RegisterResourceRequest, callback: unknown): unknown;
  newUrn(parent: string, type: string, name: string): string;
}

function recordRegistrations(cloud: MockCloud): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    cloud.registrations.push({
      urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
      type: request.getType(),
      name: request.getName(),
      custom: request.getCustom(),
      parent: request.getParent(),
      dependencies: [...request.getDependenciesList(), request.getDeletedwith()].filter((urn) => urn !== ''),
    });
    return register(request, callback);
  };
}

/** The resolved value of an Output. */
export function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}
