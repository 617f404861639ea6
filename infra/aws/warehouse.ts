/**
 * AWS warehouse: Redshift Serverless in the private subnets, not publicly accessible, TLS required,
 * admin password generated and kept in Secrets Manager by Redshift (manageAdminPassword), and a
 * COPY role that can read only the lake's staging/ zone. Enhanced VPC routing keeps COPY traffic
 * on the S3 gateway endpoint.
 */
import * as iam from '@pulumi/aws/iam/index.js';
import * as redshiftserverless from '@pulumi/aws/redshiftserverless/index.js';
import * as pulumi from '@pulumi/pulumi';
import { redshiftUrl } from '../adapter-urls.ts';
import { trustPolicy, warehouseCopyPolicy } from '../aws-policies.ts';
import type { WarehouseArgs, WarehouseOutputs } from '../components/warehouse.ts';
import { warehouseSizing } from '../sizing.ts';

export interface AwsWarehouseArgs extends WarehouseArgs {
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  lakeBucketArn: pulumi.Input<string>;
  lakeKmsKeyArn: pulumi.Input<string>;
  stagingPrefix: string;
}

export class AwsWarehouse extends pulumi.ComponentResource implements WarehouseOutputs {
  readonly warehouseUrl: pulumi.Output<string>;
  /** The Redshift-managed secret holding `{"username", "password"}`, named by WAREHOUSE_URL. */
  readonly passwordSecretArn: pulumi.Output<string>;
  readonly workgroupName: pulumi.Output<string>;
  private readonly endpoint: pulumi.Output<{ host: string; port: number }>;
  private readonly database: string;

  constructor(name: string, args: AwsWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:Warehouse', name, {}, opts);
    const child = { parent: this };
    const sizing = warehouseSizing(args.warehouse.size).redshift;

    const copyRole = new iam.Role(
      `${name}-copy`,
      {
        name: `${args.prefix}-warehouse-copy`,
        assumeRolePolicy: JSON.stringify(
          trustPolicy(['redshift.amazonaws.com', 'redshift-serverless.amazonaws.com']),
        ),
        tags: args.tags,
      },
      child,
    );
    new iam.RolePolicy(
      `${name}-copy`,
      {
        role: copyRole.id,
        policy: pulumi
          .all([args.lakeBucketArn, args.lakeKmsKeyArn])
          .apply(([bucket, key]) => JSON.stringify(warehouseCopyPolicy(bucket, key, args.stagingPrefix))),
      },
      child,
    );

    const namespace = new redshiftserverless.Namespace(
      `${name}-namespace`,
      {
        namespaceName: args.prefix,
        dbName: args.warehouse.database,
        adminUsername: args.warehouse.adminUser,
        manageAdminPassword: true,
        iamRoles: [copyRole.arn],
        defaultIamRoleArn: copyRole.arn,
        tags: args.tags,
      },
      child,
    );
    const workgroup = new redshiftserverless.Workgroup(
      `${name}-workgroup`,
      {
        workgroupName: args.prefix,
        namespaceName: namespace.namespaceName,
        baseCapacity: sizing.baseRpu,
        maxCapacity: sizing.maxRpu,
        publiclyAccessible: false,
        enhancedVpcRouting: true,
        subnetIds: args.subnetIds,
        securityGroupIds: [args.securityGroupId],
        configParameters: [{ parameterKey: 'require_ssl', parameterValue: 'true' }],
        tags: args.tags,
      },
      child,
    );

    this.passwordSecretArn = namespace.adminPasswordSecretArn;
    this.workgroupName = workgroup.workgroupName;
    this.database = args.warehouse.database;
    this.endpoint = workgroup.endpoints.apply((endpoints) => ({
      host: endpoints[0]?.address ?? '',
      port: endpoints[0]?.port ?? 5439,
    }));
    // The stack output is the admin's URL, for operators (`ecomm grants`); no job gets it.
    // Secrets Manager takes an ARN as a secret ID; the value is JSON and the adapter reads its `password`.
    this.warehouseUrl = pulumi
      .all([this.endpoint, namespace.adminPasswordSecretArn])
      .apply(([endpoint, secretArn]) =>
        redshiftUrl({
          ...endpoint,
          database: this.database,
          user: args.warehouse.adminUser,
          passwordSecret: secretArn,
        }),
      );
    this.registerOutputs({ warehouseUrl: this.warehouseUrl });
  }

  /** A login's WAREHOUSE_URL: the password secret by its platform name, found under SECRETS_URL's prefix. */
  urlFor(login: string, passwordSecret: string): pulumi.Output<string> {
    return this.endpoint.apply((endpoint) =>
      redshiftUrl({ ...endpoint, database: this.database, user: login, passwordSecret }),
    );
  }
}
