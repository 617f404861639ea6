/**
 * AWS network: a VPC whose data plane (MSK brokers, Redshift, job tasks) lives in private subnets,
 * one per zone. Jobs reach AWS APIs and the OLTP source through one NAT gateway; lake traffic
 * takes the free S3 gateway endpoint instead of the NAT.
 */
import * as ec2 from '@pulumi/aws/ec2/index.js';
import * as vpc from '@pulumi/aws/vpc/index.js';
import * as pulumi from '@pulumi/pulumi';
import { carveSubnets } from '../network-plan.ts';

export interface AwsNetworkArgs {
  prefix: string;
  region: string;
  cidr: string;
  availabilityZones: string[];
  tags: Record<string, string>;
}

export class AwsNetwork extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  /** Job tasks: egress only. */
  readonly jobsSecurityGroupId: pulumi.Output<string>;
  /** MSK brokers: IAM-auth TLS port from jobs only. */
  readonly streamSecurityGroupId: pulumi.Output<string>;
  /** Redshift: 5439 from jobs only. */
  readonly warehouseSecurityGroupId: pulumi.Output<string>;

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
    new ec2.VpcEndpoint(
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
    new vpc.SecurityGroupEgressRule(
      `${name}-jobs-egress`,
      {
        securityGroupId: jobs.id,
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
        description: 'AWS APIs, the OLTP source and in-VPC data stores',
        tags: args.tags,
      },
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

    this.vpcId = network.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.jobsSecurityGroupId = jobs.id;
    this.streamSecurityGroupId = stream.id;
    this.warehouseSecurityGroupId = warehouse.id;
    this.registerOutputs({ vpcId: this.vpcId });
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
