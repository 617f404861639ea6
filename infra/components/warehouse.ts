/** Warehouse capability: a private Postgres-wire database (Redshift Serverless or PostgreSQL Flexible Server). */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSpec } from '../spec.ts';

export interface WarehouseArgs {
  prefix: string;
  warehouse: PlatformSpec['warehouse'];
  tags: Record<string, string>;
}

export interface WarehouseOutputs {
  /** WAREHOUSE_URL, naming the secret that holds the password. */
  readonly warehouseUrl: pulumi.Output<string>;
}
