import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

/**
 * Cloud-like adapter sets on the loopback test services (see docs/services.md): an AWS-like profile (S3 API,
 * Kafka, PostgreSQL) and an Azure-like one (Azurite blob, Kafka, PostgreSQL). Each profile gets its own
 * bucket or container, topic prefix, consumer group and pair of databases, so profiles never see each other.
 */
export interface CloudProfile {
  name: 'aws' | 'azure';
  settings: Record<string, string>;
}

export interface CloudProfiles {
  aws: CloudProfile;
  azure: CloudProfile;
  /** Drops the databases the profiles created. */
  dispose(): Promise<void>;
}

export async function createCloudProfiles(label: string): Promise<CloudProfiles> {
  const services = loadServiceEnv();
  const id = `${label}-${randomBytes(3).toString('hex')}`;
  const dbId = id.replaceAll('-', '_');
  // The SDKs' default credential chains read these, as they would read a task role or a managed identity.
  process.env.AWS_ACCESS_KEY_ID = services.TEST_S3_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = services.TEST_S3_SECRET_ACCESS_KEY;
  process.env.AWS_REGION = services.TEST_S3_REGION;
  process.env.AZURE_STORAGE_CONNECTION_STRING = services.TEST_AZURE_STORAGE_CONNECTION_STRING;

  const s3 = new S3Client({
    endpoint: services.TEST_S3_ENDPOINT,
    region: services.TEST_S3_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: services.TEST_S3_ACCESS_KEY_ID,
      secretAccessKey: services.TEST_S3_SECRET_ACCESS_KEY,
    },
  });
  await s3.send(new CreateBucketCommand({ Bucket: id }));
  s3.destroy();
  await BlobServiceClient.fromConnectionString(services.TEST_AZURE_STORAGE_CONNECTION_STRING)
    .getContainerClient(id)
    .create();

  const [awsSource, awsWarehouse, azureSource, azureWarehouse] = await Promise.all(
    ['aws_src', 'aws_wh', 'azure_src', 'azure_wh'].map((suffix) => createTestDatabase(`${dbId}_${suffix}`)),
  );
  const databases = [awsSource, awsWarehouse, azureSource, azureWarehouse] as TestDatabase[];

  const kafka = `kafka://${services.TEST_KAFKA_BROKERS}`;
  return {
    aws: {
      name: 'aws',
      settings: {
        LAKE_URL: `s3://${id}/lake?endpoint=${encodeURIComponent(services.TEST_S3_ENDPOINT)}&region=${services.TEST_S3_REGION}&forcePathStyle=true`,
        STREAM_URL: kafka,
        STREAM_TOPIC_PREFIX: `${id}-aws.`,
        STREAM_GROUP_ID: `${id}-aws`,
        SOURCE_URL: (awsSource as TestDatabase).url,
        WAREHOUSE_URL: (awsWarehouse as TestDatabase).url,
        SECRETS_URL: 'env://',
      },
    },
    azure: {
      name: 'azure',
      settings: {
        LAKE_URL: `az://${services.TEST_AZURE_STORAGE_ACCOUNT}/${id}/lake?endpoint=${encodeURIComponent(services.TEST_AZURITE_BLOB_URL)}`,
        STREAM_URL: kafka,
        STREAM_TOPIC_PREFIX: `${id}-azure.`,
        STREAM_GROUP_ID: `${id}-azure`,
        SOURCE_URL: (azureSource as TestDatabase).url,
        WAREHOUSE_URL: (azureWarehouse as TestDatabase).url,
        SECRETS_URL: 'env://',
      },
    },
    async dispose() {
      await Promise.all(databases.map((database) => database.dispose()));
    },
  };
}
