import { describe, expect, it, vi } from 'vitest';
import { openAzureBlobStore } from './azure-blob.ts';
import { checkKey, DEFAULT_RETRY, LakeStoreError, parseAzureBlobUrl, parseS3Url } from './cloud-url.ts';
import { openObjectStore } from './index.ts';

describe('S3 lake URLs', () => {
  it('reads the bucket, the prefix and AWS defaults from s3://bucket/prefix', () => {
    expect(parseS3Url('s3://ecomm-lake/prod/v1')).toEqual({
      display: 's3://ecomm-lake/prod/v1',
      bucket: 'ecomm-lake',
      prefix: 'prod/v1/',
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
      pageSize: 1000,
      retry: DEFAULT_RETRY,
    });
    expect(parseS3Url('s3://ecomm-lake').prefix).toBe('');
    expect(parseS3Url('s3://ecomm-lake/').prefix).toBe('');
    expect(parseS3Url('s3://ecomm-lake/a%20b/').prefix).toBe('a b/');
  });

  it('reads endpoint, region, path style, page size and retry settings from the query', () => {
    const location = parseS3Url(
      's3://lake/raw?endpoint=http://127.0.0.1:9000/&region=eu-west-1&forcePathStyle=true&pageSize=2&attempts=2&retryDelayMs=5',
    );
    expect(location).toMatchObject({
      display: 's3://lake/raw',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      pageSize: 2,
      retry: { attempts: 2, baseDelayMs: 5 },
    });
  });

  it.each([
    ['s3://', /LAKE_URL s3:\/\/: names no bucket/],
    ['s3://Bad_Bucket/x', /"Bad_Bucket" is not a valid S3 bucket name/],
    ['s3://lake/a//b', /empty, "\." or "\.\." path segment/],
    ['s3://lake:9000/x', /a port does not belong here; use \?endpoint=/],
    ['s3://lake/x?forcepathstyle=true', /unknown query parameter "forcepathstyle" \(supported: endpoint, /],
    ['s3://lake/x?pageSize=5000', /\?pageSize= must be a whole number from 1 to 1000, got "5000"/],
    ['s3://lake/x?attempts=0', /\?attempts= must be a whole number from 1 to 10/],
    ['s3://lake/x?endpoint=localhost:9000', /\?endpoint= must be an http\(s\):\/\/ URL/],
    ['s3://lake/x?forcePathStyle=yes', /\?forcePathStyle= must be true or false/],
  ])('refuses %s with a message naming LAKE_URL', (url, message) => {
    expect(() => parseS3Url(url)).toThrow(LakeStoreError);
    expect(() => parseS3Url(url)).toThrow(/^LAKE_URL /);
    expect(() => parseS3Url(url)).toThrow(message);
  });

  it('never prints credentials or query values written into the URL', () => {
    expect(() => parseS3Url('s3://key:secret@lake/x')).toThrow('LAKE_URL s3://key:***@lake/x: credentials');
    expect(() => parseS3Url('s3://lake/x?X-Amz-Signature=abc123')).not.toThrow(/abc123/);
  });
});

describe('Azure Blob lake URLs', () => {
  it('reads the account, the container and the prefix from az://account/container/prefix', () => {
    expect(parseAzureBlobUrl('az://ecommlake/lake/prod/v1')).toEqual({
      display: 'az://ecommlake/lake/prod/v1',
      account: 'ecommlake',
      container: 'lake',
      prefix: 'prod/v1/',
      endpoint: undefined,
      pageSize: 5000,
      retry: DEFAULT_RETRY,
    });
    expect(parseAzureBlobUrl('az://ecommlake/lake').prefix).toBe('');
    expect(
      parseAzureBlobUrl('az://ecommlake/lake?endpoint=https://lake.internal/ecommlake&pageSize=3'),
    ).toMatchObject({ endpoint: 'https://lake.internal/ecommlake', pageSize: 3 });
  });

  it.each([
    ['az://ecommlake', /expected az:\/\/account\/container\/optional\/prefix/],
    ['az://Ecomm_Lake/lake', /"Ecomm_Lake" is not a valid storage account name/],
    ['az://ecommlake/My--Lake', /"My--Lake" is not a valid container name/],
    ['az://ecommlake/lake?sig=s3cr3t', /unknown query parameter "sig"/],
  ])('refuses %s with a message naming LAKE_URL', (url, message) => {
    expect(() => parseAzureBlobUrl(url)).toThrow(/^LAKE_URL az:\/\//);
    expect(() => parseAzureBlobUrl(url)).toThrow(message);
    expect(() => parseAzureBlobUrl(url)).not.toThrow(/s3cr3t/);
  });

  it('refuses a plain-http endpoint for a managed identity, whose tokens need TLS', () => {
    expect(() => openAzureBlobStore('az://ecommlake/lake?endpoint=http://10.0.0.5/ecommlake', {})).toThrow(
      'LAKE_URL az://ecommlake/lake: ?endpoint= must be https:// with a managed identity',
    );
  });

  it('derives the blob endpoint from a standard connection string, and never puts a SAS into locate()', () => {
    const key = Buffer.from('account-key').toString('base64');
    const withKey = `DefaultEndpointsProtocol=https;AccountName=ecommlake;AccountKey=${key};EndpointSuffix=core.windows.net`;
    expect(
      openAzureBlobStore('az://ecommlake/lake/zone', { AZURE_STORAGE_CONNECTION_STRING: withKey }).locate(
        'a.csv',
      ),
    ).toBe('https://ecommlake.blob.core.windows.net/lake/zone/a.csv');
    const withSas =
      'BlobEndpoint=https://ecommlake.blob.core.windows.net/;SharedAccessSignature=sv=2024&sig=s3cr3t';
    expect(
      openAzureBlobStore('az://ecommlake/lake', { AZURE_STORAGE_CONNECTION_STRING: withSas }).locate('a.csv'),
    ).toBe('https://ecommlake.blob.core.windows.net/lake/a.csv');
  });

  it('refuses a connection string with neither key nor SAS, without printing it', () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=ecommlake;Whatever=hush-hush' };
    expect(() => openAzureBlobStore('az://ecommlake/lake', env)).toThrow(
      /neither AccountKey nor SharedAccessSignature/,
    );
    expect(() => openAzureBlobStore('az://ecommlake/lake', env)).not.toThrow(/hush-hush/);
  });
});

describe('cloud lake keys', () => {
  it('accepts plain relative keys and refuses empty, "." and ".." segments', () => {
    expect(checkKey('s3://lake', 'raw/source=orders/x.csv')).toBe('raw/source=orders/x.csv');
    for (const bad of ['', '/abs', 'a//b', 'a/./b', '../up', 'dir/'])
      expect(() => checkKey('s3://lake', bad)).toThrow();
  });

  it('is reached through openObjectStore by scheme, without touching the network', async () => {
    vi.stubEnv('AZURE_STORAGE_CONNECTION_STRING', '');
    const s3 = openObjectStore('s3://lake/raw?region=us-east-1');
    const azure = openObjectStore('az://ecommlake/lake/raw');
    expect(s3.locate('a/b.csv')).toBe('s3://lake/raw/a/b.csv');
    expect(azure.locate('a/b.csv')).toBe('https://ecommlake.blob.core.windows.net/lake/raw/a/b.csv');
    await Promise.all([s3.close(), azure.close()]);
    vi.unstubAllEnvs();
  });
});
