/**
 * AWS network: a VPC whose data plane (MSK brokers, Redshift, job tasks) lives in private subnets,
 * one per zone. Job tasks reach only what they use: the AWS APIs through interface endpoints in the
 * private subnets (Secrets Manager, ECR, CloudWatch Logs), the lake through the S3 gateway endpoint,
 * MSK and Redshift by their security groups, and the OLTP source on its port in its range (the one
 * destination the NAT gateway still serves when the source lives outside the VPC). Each further source
 * the stack configures (a SaaS API, Snowflake) gets a security group of its own that lets out HTTPS to its ranges
 * alone, through the NAT; only the tasks of the jobs that read that source carry it. No egress rule names the
 * internet.
 */
import * as ec2 from '@pulumi/aws/ec2/index.js';
import * as vpc from '@pulumi/aws/vpc/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { SourceSetting } from '../adapter-urls.ts';
import { carveSubnets } from '../network-plan.ts';

export interface AwsNetworkArgs {
  prefix: string;
  region: string;
  cidr: string;
  availabilityZones: string[];
  /** The OLTP source: the range it is in and its port, the only destination outside AWS the jobs reach. */
  source: { cidr: string; port: number };
  /** The further sources configured: each one's ranges and port. */
  externalSources: { setting: SourceSetting; name: string; port: number; cidrs: string[] }[];
  tags: Record<string, string>;
}

/** AWS APIs the job tasks call, each through an interface endpoint: secrets, image pulls, logs. */
export const INTERFACE_ENDPOINT_SERVICES = ['secretsmanager', 'ecr.api', 'ecr.dkr', 'logs'] as const;

export class AwsNetwork extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  /** Job tasks: no ingress; egress only to the endpoints, the data services and the source. */
  readonly jobsSecurityGroupId: pulumi.Output<string>;
  /** MSK brokers: IAM-auth TLS port from jobs only. */
  readonly streamSecurityGroupId: pulumi.Output<string>;
  /** Redshift: 5439 from jobs only. */
  readonly warehouseSecurityGroupId: pulumi.Output<string>;
  /** Per configured further source: the egress-only group a task reading it carries besides the jobs group. */
  readonly sourceSecurityGroupIds: Partial<Record<SourceSetting, pulumi.Output<string>>> = {};

  constructor(name: string, args: AwsNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:Network', name, {}, opts);
    const child = { parent: this };
    const tagged = (extra: string) => ({ ...args.tags, Name: `${args.prefix}-${extra}` });
    const plan = carveSubnets(args.cidr, [
      ...args.availabilityZones.map((zone) => ({ name: `private-${zone}`, prefixLength: 20 })),
      { name: 'public', prefixLength: 24 },
    ]);

    const network = new ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tagged('vpc') },
      child,
    );
    const privateSubnets = args.availabilityZones.map((zone, index) => {
      const cidr = plan[index]?.cidr ?? '';
      return new ec2.Subnet(
        `${name}-private-${zone}`,
        {
          vpcId: network.id,
          cidrBlock: cidr,
          availabilityZone: zone,
          mapPublicIpOnLaunch: false,
          tags: tagged(`private-${zone}`),
        },
        child,
      );
    });
    const publicCidr = plan[plan.length - 1]?.cidr ?? '';
    const publicSubnet = new ec2.Subnet(
      `${name}-public`,
      {
        vpcId: network.id,
        cidrBlock: publicCidr,
        availabilityZone: args.availabilityZones[0],
        mapPublicIpOnLaunch: false,
        tags: tagged('public'),
      },
      child,
    );

    const gateway = new ec2.InternetGateway(`${name}-igw`, { vpcId: network.id, tags: tagged('igw') }, child);
    const natAddress = new ec2.Eip(`${name}-nat-ip`, { domain: 'vpc', tags: tagged('nat-ip') }, child);
    const nat = new ec2.NatGateway(
      `${name}-nat`,
      { allocationId: natAddress.id, subnetId: publicSubnet.id, tags: tagged('nat') },
      { parent: this, dependsOn: [gateway] },
    );

    const publicRoutes = new ec2.RouteTable(
      `${name}-public-routes`,
      {
        vpcId: network.id,
        routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }],
        tags: tagged('public'),
      },
      child,
    );
    new ec2.RouteTableAssociation(
      `${name}-public-routes`,
      { subnetId: publicSubnet.id, routeTableId: publicRoutes.id },
      child,
    );
    const privateRoutes = new ec2.RouteTable(
      `${name}-private-routes`,
      {
        vpcId: network.id,
        routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }],
        tags: tagged('private'),
      },
      child,
    );
    privateSubnets.forEach((subnet, index) => {
      new ec2.RouteTableAssociation(
        `${name}-private-routes-${index}`,
        { subnetId: subnet.id, routeTableId: privateRoutes.id },
        child,
      );
    });
    const s3Endpoint = new ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: network.id,
        serviceName: `com.amazonaws.${args.region}.s3`,
        vpcEndpointType: 'Gateway',
        routeTableIds: [privateRoutes.id],
        tags: tagged('s3'),
      },
      child,
    );

    const jobs = new ec2.SecurityGroup(
      `${name}-jobs`,
      { vpcId: network.id, description: 'Job and service tasks', tags: tagged('jobs') },
      child,
    );
    const stream = this.ingressOnly(
      `${name}-stream`,
      network.id,
      jobs.id,
      9098,
      'MSK brokers (IAM auth, TLS)',
      args.tags,
    );
    const warehouse = this.ingressOnly(
      `${name}-warehouse`,
      network.id,
      jobs.id,
      5439,
      'Redshift Serverless',
      args.tags,
    );
    const endpoints = this.ingressOnly(
      `${name}-endpoints`,
      network.id,
      jobs.id,
      443,
      'AWS API interface endpoints',
      args.tags,
    );
    for (const service of INTERFACE_ENDPOINT_SERVICES) {
      new ec2.VpcEndpoint(
        `${name}-${service.replace('.', '-')}`,
        {
          vpcId: network.id,
          serviceName: `com.amazonaws.${args.region}.${service}`,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds: privateSubnets.map((subnet) => subnet.id),
          securityGroupIds: [endpoints.id],
          tags: tagged(service),
        },
        child,
      );
    }
    const egress = (
      rule: string,
      description: string,
      port: number,
      to: {
        referencedSecurityGroupId?: pulumi.Input<string>;
        prefixListId?: pulumi.Input<string>;
        cidrIpv4?: string;
      },
    ) =>
      new vpc.SecurityGroupEgressRule(
        `${name}-jobs-to-${rule}`,
        {
          securityGroupId: jobs.id,
          ipProtocol: 'tcp',
          fromPort: port,
          toPort: port,
          description,
          ...to,
          tags: args.tags,
        },
        child,
      );
    egress('endpoints', 'AWS APIs through their interface endpoints', 443, {
      referencedSecurityGroupId: endpoints.id,
    });
    egress('s3', 'The lake through the S3 gateway endpoint', 443, { prefixListId: s3Endpoint.prefixListId });
    egress('stream', 'MSK brokers (IAM auth, TLS)', 9098, { referencedSecurityGroupId: stream.id });
    egress('warehouse', 'Redshift Serverless', 5439, { referencedSecurityGroupId: warehouse.id });
    egress('source', 'The OLTP source', args.source.port, { cidrIpv4: args.source.cidr });
    for (const source of args.externalSources)
      this.sourceSecurityGroupIds[source.setting] = this.egressOnly(name, network.id, source, args.tags);

    this.vpcId = network.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.jobsSecurityGroupId = jobs.id;
    this.streamSecurityGroupId = stream.id;
    this.warehouseSecurityGroupId = warehouse.id;
    this.registerOutputs({ vpcId: this.vpcId });
  }

  /**
   * A group with no ingress that lets out the source's port to its ranges only; the provider drops the default
   * allow-all egress rule of a group it creates, so these rules are all there is.
   */
  private egressOnly(
    name: string,
    vpcId: pulumi.Output<string>,
    source: AwsNetworkArgs['externalSources'][number],
    tags: Record<string, string>,
  ): pulumi.Output<string> {
    const groupName = `${name}-${source.name}-source`;
    const group = new ec2.SecurityGroup(
      groupName,
      {
        vpcId,
        description: `Tasks that read ${source.setting}: out to its ranges only`,
        tags: { ...tags, Name: groupName },
      },
      { parent: this },
    );
    source.cidrs.forEach((cidr, index) => {
      new vpc.SecurityGroupEgressRule(
        `${groupName}-${index}`,
        {
          securityGroupId: group.id,
          ipProtocol: 'tcp',
          fromPort: source.port,
          toPort: source.port,
          cidrIpv4: cidr,
          description: `${source.setting} (${source.name})`,
          tags,
        },
        { parent: this },
      );
    });
    return group.id;
  }

  /** A security group that admits one port from the jobs group and nothing else. */
  private ingressOnly(
    name: string,
    vpcId: pulumi.Output<string>,
    fromGroup: pulumi.Output<string>,
    port: number,
    description: string,
    tags: Record<string, string>,
  ): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(
      name,
      { vpcId, description, tags: { ...tags, Name: name } },
      { parent: this },
    );
    new vpc.SecurityGroupIngressRule(
      `${name}-from-jobs`,
      {
        securityGroupId: group.id,
        referencedSecurityGroupId: fromGroup,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        description: `${description} from job tasks`,
        tags,
      },
      { parent: this },
    );
    return group;
  }
}
