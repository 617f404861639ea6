/**
 * Azure warehouse: PostgreSQL Flexible Server injected into its delegated subnet (public network
 * access disabled, resolved through a private DNS zone), TLS 1.2+ enforced, and the warehouse
 * database. The admin password comes from encrypted stack config and is also put in Key Vault as
 * WAREHOUSE_PASSWORD, for operators; each job's WAREHOUSE_URL names its own login and password secret (urlFor).
 */
import * as dbforpostgresql from '@pulumi/azure-native/dbforpostgresql/index.js';
import * as pulumi from '@pulumi/pulumi';
import { postgresUrl } from '../adapter-urls.ts';
import type { WarehouseArgs, WarehouseOutputs } from '../components/warehouse.ts';
import { warehouseSizing } from '../sizing.ts';
import type { AzurePlacement } from './placement.ts';

export const POSTGRES_VERSION = '16';

export interface AzureWarehouseArgs extends WarehouseArgs, AzurePlacement {
  serverName: string;
  adminPassword: pulumi.Output<string>;
  subnetId: pulumi.Input<string>;
  privateDnsZoneId: pulumi.Input<string>;
  dnsReady: pulumi.Resource[];
}

export class AzureWarehouse extends pulumi.ComponentResource implements WarehouseOutputs {
  readonly warehouseUrl: pulumi.Output<string>;
  private readonly serverDatabase: pulumi.Output<[string, string]>;

  constructor(name: string, args: AzureWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:Warehouse', name, {}, opts);
    const sizing = warehouseSizing(args.warehouse.size).postgres;
    const server = new dbforpostgresql.Server(
      `${name}-server`,
      {
        serverName: args.serverName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        version: POSTGRES_VERSION,
        administratorLogin: args.warehouse.adminUser,
        administratorLoginPassword: args.adminPassword,
        authConfig: { passwordAuth: 'Enabled', activeDirectoryAuth: 'Disabled' },
        sku: { name: sizing.skuName, tier: sizing.tier },
        storage: { storageSizeGB: sizing.storageGiB, autoGrow: 'Enabled' },
        backup: { backupRetentionDays: 14, geoRedundantBackup: 'Disabled' },
        network: {
          delegatedSubnetResourceId: args.subnetId,
          privateDnsZoneArmResourceId: args.privateDnsZoneId,
          publicNetworkAccess: 'Disabled',
        },
        tags: args.tags,
      },
      { parent: this, dependsOn: args.dnsReady },
    );
    const serverRef = { resourceGroupName: args.resourceGroupName, serverName: server.name };
    const tls = new dbforpostgresql.Configuration(
      `${name}-require-tls`,
      {
        ...serverRef,
        configurationName: 'require_secure_transport',
        value: 'on',
        source: 'user-override',
      },
      { parent: this },
    );
    new dbforpostgresql.Configuration(
      `${name}-tls-version`,
      {
        ...serverRef,
        configurationName: 'ssl_min_protocol_version',
        value: 'TLSv1.2',
        source: 'user-override',
      },
      { parent: this, dependsOn: [tls] },
    );
    const database = new dbforpostgresql.Database(
      `${name}-database`,
      {
        ...serverRef,
        databaseName: args.warehouse.database,
        charset: 'UTF8',
        collation: 'en_US.utf8',
      },
      { parent: this },
    );

    this.serverDatabase = pulumi.all([server.fullyQualifiedDomainName, database.name]);
    // The stack output is the admin's URL, for operators (`ecomm grants`); no job gets it.
    this.warehouseUrl = this.urlFor(args.warehouse.adminUser, 'WAREHOUSE_PASSWORD');
    this.registerOutputs({ warehouseUrl: this.warehouseUrl });
  }

  /** A login's WAREHOUSE_URL, its password in Key Vault under the platform secret's name. */
  urlFor(login: string, passwordSecret: string): pulumi.Output<string> {
    return this.serverDatabase.apply(([host, database]) =>
      postgresUrl({ host, port: 5432, database, user: login, passwordSecret }),
    );
  }
}
