import { describe, expect, it, vi } from 'vitest';
import { openEventStream } from './index.ts';
import { kafkaClientConfig, type MskSigner } from './kafka-config.ts';

const CONNECTION_STRING =
  'Endpoint=sb://shop-events.servicebus.windows.net/;SharedAccessKeyName=jobs;SharedAccessKey=s3cr3tKeyValue=';

const signerReturning = (token: string) => {
  const generateAuthToken = vi.fn(async (_options: { region: string }) => ({ token }));
  return { signer: { generateAuthToken } satisfies MskSigner, generateAuthToken };
};

describe('kafkaClientConfig', () => {
  it('defaults to plaintext on port 9092 with bounded retries', () => {
    const config = kafkaClientConfig('kafka://broker-a,broker-b:19092', {});
    expect(config.client.brokers).toEqual(['broker-a:9092', 'broker-b:19092']);
    expect(config.client.ssl).toBeUndefined();
    expect(config.client.sasl).toBeUndefined();
    expect(config.client.retry).toMatchObject({ retries: 5, initialRetryTime: 300 });
    expect(config.describe).toMatchObject({ profile: 'plaintext', tls: false, sasl: 'none', attempts: 6 });
    expect(config.producer.idempotent).toBe(true);
  });

  it('reads clientId, retries and initialRetryTime from the URL', () => {
    const config = kafkaClientConfig('kafka://b:9092?clientId=ingest&retries=2&initialRetryTime=50', {});
    expect(config.client.clientId).toBe('ingest');
    expect(config.client.retry).toMatchObject({ retries: 2, initialRetryTime: 50 });
    expect(config.retry.attempts).toBe(3);
  });

  it('reads the consumer group timing from the URL: 6 s sessions by default, Event Hubs 10 s with 3 s heartbeats', () => {
    // 6 s: a crashed member's partitions move within 6 s, the smallest session default brokers and MSK accept.
    expect(kafkaClientConfig('kafka://b', {}).consumer).toMatchObject({
      sessionTimeout: 6_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 60_000,
    });
    const fast = kafkaClientConfig(
      'kafka://b?sessionTimeout=2000&heartbeatInterval=300&rebalanceTimeout=5000',
      {},
    );
    expect(fast.consumer).toMatchObject({
      sessionTimeout: 2_000,
      heartbeatInterval: 300,
      rebalanceTimeout: 5_000,
    });
    const hubs = (query = '') =>
      kafkaClientConfig(`kafka://ns.servicebus.windows.net?auth=eventhubs${query}`, {
        EVENTHUBS_CONNECTION_STRING: CONNECTION_STRING,
      });
    expect(hubs().consumer).toMatchObject({ sessionTimeout: 10_000, heartbeatInterval: 3_000 });
    expect(hubs('&sessionTimeout=6000&heartbeatInterval=2000').consumer.sessionTimeout).toBe(6_000);
    expect(() => hubs('&sessionTimeout=2000&heartbeatInterval=500')).toThrow(
      /sessionTimeout \(2000\) must be between 6000 and 300000 ms on Event Hubs/,
    );
    expect(() => hubs('&sessionTimeout=400000')).toThrow(/between 6000 and 300000 ms on Event Hubs/);
    expect(() => kafkaClientConfig('kafka://b?sessionTimeout=soon', {})).toThrow(
      /sessionTimeout must be a whole number/,
    );
    // kafkajs would refuse these only when a consumer is created, and the service would retry forever.
    expect(() => kafkaClientConfig('kafka://b?sessionTimeout=3000&heartbeatInterval=3000', {})).toThrow(
      /STREAM_URL .*heartbeatInterval \(3000\) must be at least 1 and below sessionTimeout \(3000\)/,
    );
    expect(() => kafkaClientConfig('kafka://b?heartbeatInterval=0', {})).toThrow(/heartbeatInterval \(0\)/);
    expect(() => kafkaClientConfig('kafka://b?sessionTimeout=0', {})).toThrow(
      /sessionTimeout must be at least 1/,
    );
  });

  it('builds TLS + OAUTHBEARER for msk-iam, signing a token for the URL region', async () => {
    const { signer, generateAuthToken } = signerReturning('signed-token');
    const config = kafkaClientConfig(
      'kafka://b-1.shop.kafka.eu-west-1.amazonaws.com,b-2.shop.kafka.eu-west-1.amazonaws.com?auth=msk-iam&region=eu-west-1',
      { AWS_REGION: 'us-east-1' },
      signer,
    );
    expect(config.client.brokers).toEqual([
      'b-1.shop.kafka.eu-west-1.amazonaws.com:9098',
      'b-2.shop.kafka.eu-west-1.amazonaws.com:9098',
    ]);
    expect(config.client.ssl).toBe(true);
    const sasl = config.client.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl)) throw new Error('expected an OAUTHBEARER provider');
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(Object.keys(sasl).sort()).toEqual(['mechanism', 'oauthBearerProvider']);
    expect(generateAuthToken).not.toHaveBeenCalled();
    await expect(sasl.oauthBearerProvider()).resolves.toEqual({ value: 'signed-token' });
    expect(generateAuthToken).toHaveBeenCalledWith({ region: 'eu-west-1' });
    expect(config.describe).toMatchObject({ tls: true, sasl: 'oauthbearer', region: 'eu-west-1' });
  });

  it('signs with the installed AWS signer by default', async () => {
    const signerModule = await import('aws-msk-iam-sasl-signer-js');
    expect(typeof signerModule.generateAuthToken).toBe('function');
  });

  it('takes the msk-iam region from AWS_REGION, and names both ways when there is none', async () => {
    const { signer, generateAuthToken } = signerReturning('t');
    const config = kafkaClientConfig('kafka://b-1:9098?auth=msk-iam', { AWS_REGION: 'ap-south-1' }, signer);
    const sasl = config.client.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl)) throw new Error('expected an OAUTHBEARER provider');
    await sasl.oauthBearerProvider();
    expect(generateAuthToken).toHaveBeenCalledWith({ region: 'ap-south-1' });
    expect(() => kafkaClientConfig('kafka://b-1?auth=msk-iam', {})).toThrow(
      'STREAM_URL kafka://b-1?auth=msk-iam: auth=msk-iam needs a region: add ?region=<aws region> or set AWS_REGION',
    );
  });

  it('builds TLS + PLAIN $ConnectionString on port 9093 for eventhubs, the password from the environment', () => {
    const config = kafkaClientConfig('kafka://shop-events.servicebus.windows.net?auth=eventhubs', {
      EVENTHUBS_CONNECTION_STRING: CONNECTION_STRING,
    });
    expect(config.client.brokers).toEqual(['shop-events.servicebus.windows.net:9093']);
    expect(config.client.ssl).toBe(true);
    expect(config.client.sasl).toEqual({
      mechanism: 'plain',
      username: '$ConnectionString',
      password: CONNECTION_STRING,
    });
    // Microsoft's recommended client settings for the Event Hubs Kafka endpoint.
    expect(config.client.requestTimeout).toBe(60_000);
    expect(config.consumer.sessionTimeout).toBeGreaterThanOrEqual(6_000);
    expect(config.consumer.heartbeatInterval).toBe(3_000);
    expect(config.consumer.metadataMaxAge).toBeLessThan(240_000);
    expect(JSON.stringify(config.describe)).not.toContain('s3cr3t');
    expect(config.describe).toMatchObject({
      secretFromEnv: 'EVENTHUBS_CONNECTION_STRING',
      username: '$ConnectionString',
    });
  });

  it('reads the Event Hubs connection string from the variable the URL names', () => {
    const config = kafkaClientConfig(
      'kafka://shop-events.servicebus.windows.net:9093?auth=eventhubs&connectionStringEnv=SHOP_EH',
      { SHOP_EH: CONNECTION_STRING },
    );
    expect(config.client.sasl).toMatchObject({ password: CONNECTION_STRING });
  });

  it('names the missing variable for eventhubs, and never echoes a bad connection string', () => {
    expect(() => kafkaClientConfig('kafka://ns.servicebus.windows.net?auth=eventhubs', {})).toThrow(
      'STREAM_URL kafka://ns.servicebus.windows.net?auth=eventhubs: auth=eventhubs needs EVENTHUBS_CONNECTION_STRING',
    );
    const bad = 'SharedAccessKey=s3cr3tKeyValue=';
    expect(() =>
      kafkaClientConfig('kafka://ns.servicebus.windows.net?auth=eventhubs', {
        EVENTHUBS_CONNECTION_STRING: bad,
      }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cr3t') }));
  });

  it('builds TLS + OAUTHBEARER on 9093 for entra, a fresh Entra ID token for the namespace per authentication', async () => {
    const scopes: string[] = [];
    let issued = 0;
    const credential = {
      async getToken(scope: string) {
        scopes.push(scope);
        issued += 1;
        return { token: `entra-token-${issued}`, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const config = kafkaClientConfig(
      'kafka://shop-events.servicebus.windows.net?auth=entra',
      {},
      undefined,
      credential,
    );
    expect(config.client.brokers).toEqual(['shop-events.servicebus.windows.net:9093']);
    expect(config.client.ssl).toBe(true);
    const sasl = config.client.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl)) throw new Error('expected an OAUTHBEARER provider');
    expect(sasl.mechanism).toBe('oauthbearer');
    // Nothing is asked of Entra until kafkajs authenticates; then each (re)authentication asks again.
    expect(scopes).toEqual([]);
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'entra-token-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'entra-token-2' });
    expect(scopes).toEqual([
      'https://shop-events.servicebus.windows.net/.default',
      'https://shop-events.servicebus.windows.net/.default',
    ]);
    expect(config.describe).toMatchObject({
      profile: 'entra',
      tls: true,
      sasl: 'oauthbearer',
      scope: 'https://shop-events.servicebus.windows.net/.default',
    });
    expect(config.describe.secretFromEnv).toBeUndefined();
    // Event Hubs' session and heartbeat rules hold as with the connection string.
    expect(config.consumer.heartbeatInterval).toBe(3_000);
    expect(config.consumer.metadataMaxAge).toBeLessThan(240_000);
    expect(() =>
      kafkaClientConfig('kafka://ns.servicebus.windows.net?auth=entra&sessionTimeout=5000', {}),
    ).toThrow(/sessionTimeout \(5000\) must be between 6000 and 300000 ms on Event Hubs/);
  });

  it('fails the authentication with a clear message when Entra ID gives no token', async () => {
    const config = kafkaClientConfig('kafka://ns.servicebus.windows.net?auth=entra', {}, undefined, {
      getToken: async () => null,
    });
    const sasl = config.client.sasl;
    if (!sasl || !('oauthBearerProvider' in sasl)) throw new Error('expected an OAUTHBEARER provider');
    await expect(sasl.oauthBearerProvider()).rejects.toThrow(
      'Microsoft Entra ID gave no token for https://ns.servicebus.windows.net/.default',
    );
  });

  it('asks entra for one Event Hubs namespace host', () => {
    expect(() => kafkaClientConfig('kafka://b-1:9093?auth=entra', {})).toThrow(
      'STREAM_URL kafka://b-1:9093?auth=entra: auth=entra needs an Event Hubs namespace host (<namespace>.servicebus.windows.net), got b-1',
    );
    expect(() =>
      kafkaClientConfig('kafka://a.servicebus.windows.net,b.servicebus.windows.net?auth=entra', {}),
    ).toThrow(
      'auth=entra takes one Event Hubs namespace, got a.servicebus.windows.net, b.servicebus.windows.net',
    );
  });

  it('rejects an unknown auth profile, naming STREAM_URL and the profiles', () => {
    expect(() => kafkaClientConfig('kafka://b?auth=scram', {})).toThrow(
      'STREAM_URL kafka://b?auth=scram: unknown auth profile "scram"; expected plaintext, msk-iam, eventhubs, entra',
    );
  });

  it('refuses credentials in the URL without repeating them', () => {
    const attempt = () => kafkaClientConfig('kafka://user:s3cr3t@b:9092', {});
    expect(attempt).toThrow(/^STREAM_URL kafka:\/\/\*\*\*@b:9092: credentials do not belong in the URL/);
    expect(attempt).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cr3t') }));
    const unknown = () => kafkaClientConfig('kafka://b?password=s3cr3t', {});
    expect(unknown).toThrow('STREAM_URL kafka://b?password=***: unknown parameter password');
  });

  it('rejects bad broker lists and numbers', () => {
    expect(() => kafkaClientConfig('kafka://', {})).toThrow(
      /STREAM_URL kafka:\/\/: "" is not a broker address/,
    );
    expect(() => kafkaClientConfig('kafka://b:99999', {})).toThrow(/invalid port/);
    expect(() => kafkaClientConfig('kafka://b?retries=-1', {})).toThrow(/retries must be a whole number/);
    expect(() => kafkaClientConfig('kafka://b?logLevel=loud', {})).toThrow(/logLevel must be one of/);
  });

  it('is what the stream factory opens for kafka:// URLs, keeping the URL as given', () => {
    const stream = openEventStream('kafka://127.0.0.1:9?clientId=factory');
    expect(stream.url).toBe('kafka://127.0.0.1:9?clientId=factory');
    expect(() => openEventStream('kafka://b?auth=nope')).toThrow(/^STREAM_URL kafka:\/\/b\?auth=nope/);
  });
});
