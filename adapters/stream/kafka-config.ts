import type { ConsumerConfig, KafkaConfig, SASLOptions } from 'kafkajs';
import { redactUrl } from '../redact.ts';
import type { RetryPolicy } from '../retry.ts';

/**
 * STREAM_URL for the Kafka backend, one grammar for the three places it runs:
 *
 *   kafka://host1[:port],host2[:port][?auth=plaintext|msk-iam|eventhubs|entra][&clientId=…][&region=…]
 *         [&connectionStringEnv=…][&retries=5][&initialRetryTime=300][&idempotent=true][&logLevel=nothing]
 *         [&sessionTimeout=6000][&heartbeatInterval=1000][&rebalanceTimeout=60000]
 *
 * - plaintext (default, port 9092): no TLS, no SASL; self-hosted Kafka and the test broker.
 * - msk-iam (port 9098): Amazon MSK with IAM access control: TLS + SASL OAUTHBEARER, the token signed by
 *   aws-msk-iam-sasl-signer-js from the default AWS credential chain, `region` from ?region= or AWS_REGION.
 * - eventhubs (port 9093): the Kafka endpoint of an Azure Event Hubs namespace: TLS + SASL PLAIN with user
 *   `$ConnectionString` and the namespace connection string as password, read from the environment variable
 *   named by ?connectionStringEnv= (default EVENTHUBS_CONNECTION_STRING), never from the URL.
 * - entra (port 9093): the same endpoint through Microsoft Entra ID, no shared key (the namespace may disable local
 *   auth): TLS + SASL OAUTHBEARER, a token for `https://<namespace host>/.default` from @azure/identity's
 *   DefaultAzureCredential (a managed identity in Azure, picked by AZURE_CLIENT_ID), fetched afresh on each
 *   (re)authentication. The credential is injected so tests never touch Entra.
 * Secrets never travel in the URL: user-info is refused, so the URL is safe to print and log.
 */
export type KafkaAuthProfile = 'plaintext' | 'msk-iam' | 'eventhubs' | 'entra';

export interface MskSigner {
  generateAuthToken(options: { region: string }): Promise<{ token: string }>;
}

/** What auth=entra needs of a credential: @azure/identity's TokenCredential.getToken, for one scope. */
export interface EntraCredential {
  getToken(scope: string): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface KafkaStreamConfig {
  /** kafkajs client options (brokers, clientId, TLS, SASL, timeouts, retry). Holds the secret: never log it. */
  client: KafkaConfig;
  consumer: Pick<
    ConsumerConfig,
    'sessionTimeout' | 'heartbeatInterval' | 'maxWaitTimeInMs' | 'metadataMaxAge' | 'rebalanceTimeout'
  >;
  producer: { idempotent: boolean; metadataMaxAge: number };
  /** The URL's retry budget, for the few broker answers kafkajs does not retry itself (a new partition's leader). */
  retry: RetryPolicy;
  /** The same settings without secrets, for messages, logs and tests. */
  describe: {
    profile: KafkaAuthProfile;
    brokers: string[];
    tls: boolean;
    sasl: 'none' | 'plain' | 'oauthbearer';
    username?: string;
    region?: string;
    /** auth=entra: the token scope asked for. */
    scope?: string;
    secretFromEnv?: string;
    attempts: number;
  };
}

const PROFILES: KafkaAuthProfile[] = ['plaintext', 'msk-iam', 'eventhubs', 'entra'];
const DEFAULT_PORT: Record<KafkaAuthProfile, number> = {
  plaintext: 9092,
  'msk-iam': 9098,
  eventhubs: 9093,
  entra: 9093,
};
const PARAMS = [
  'auth',
  'clientId',
  'region',
  'connectionStringEnv',
  'retries',
  'initialRetryTime',
  'idempotent',
  'logLevel',
  'sessionTimeout',
  'heartbeatInterval',
  'rebalanceTimeout',
];
/** kafkajs' own numbering (its logLevel enum); kafkajs logs nothing by default here: errors reach the caller. */
const KAFKA_LOG_LEVELS: Record<string, number> = { nothing: 0, error: 1, warn: 2, info: 4, debug: 5 };

/**
 * The URL as it may appear in messages: user-info (refused, but a URL may carry it anyway) and the values of
 * unknown parameters hidden. User-info runs to the last `@`, so a raw `@`, `/` or `?` in a password stays hidden.
 */
export function safeKafkaUrl(url: string): string {
  const userInfoEnd = url.lastIndexOf('@');
  const hidden =
    userInfoEnd < 0 ? url : url.replace(/^(kafka:\/\/).*$/is, `$1***@${url.slice(userInfoEnd + 1)}`);
  const queryAt = hidden.indexOf('?');
  if (queryAt < 0) return redactUrl(hidden);
  const params = [...new URLSearchParams(hidden.slice(queryAt + 1))].map(([key, value]) =>
    PARAMS.includes(key) ? `${key}=${value}` : `${key}=***`,
  );
  return redactUrl(`${hidden.slice(0, queryAt)}?${params.join('&')}`);
}

export class KafkaConfigError extends Error {
  constructor(url: string, problem: string) {
    super(`STREAM_URL ${safeKafkaUrl(url)}: ${problem}`);
    this.name = 'KafkaConfigError';
  }
}

/**
 * The kafkajs configuration a STREAM_URL asks for. Pure: reads only `env` and calls nothing until kafkajs asks
 * for an MSK token (`signer` is injected so tests never touch AWS).
 */
export function kafkaClientConfig(
  url: string,
  env: Record<string, string | undefined>,
  signer: MskSigner = lazyMskSigner,
  credential: EntraCredential = lazyEntraCredential,
): KafkaStreamConfig {
  const fail = (problem: string): never => {
    throw new KafkaConfigError(url, problem);
  };
  const match = /^kafka:\/\/([^/?]*)\/?(?:\?(.*))?$/i.exec(url);
  if (!match) return fail('expected kafka://host[:port][,host[:port]…][?auth=…]');
  const [, authority = '', query = ''] = match;
  if (authority.includes('@'))
    fail(
      'credentials do not belong in the URL; use auth=msk-iam, auth=entra or auth=eventhubs with the environment',
    );
  const params = new URLSearchParams(query);
  const unknown = [...params.keys()].filter((key) => !PARAMS.includes(key));
  if (unknown.length > 0) fail(`unknown parameter ${unknown.join(', ')}; expected ${PARAMS.join(', ')}`);

  const profile = (params.get('auth') ?? 'plaintext') as KafkaAuthProfile;
  if (!PROFILES.includes(profile)) fail(`unknown auth profile "${profile}"; expected ${PROFILES.join(', ')}`);
  const brokers = authority.split(',').map((broker) => parseBroker(broker, DEFAULT_PORT[profile], fail));
  const retries = integerParam(params, 'retries', 5, fail);
  const initialRetryTime = integerParam(params, 'initialRetryTime', 300, fail);
  const idempotent = (params.get('idempotent') ?? 'true') !== 'false';
  const level = params.get('logLevel') ?? 'nothing';
  const logLevel = KAFKA_LOG_LEVELS[level];
  if (logLevel === undefined)
    return fail(`logLevel must be one of ${Object.keys(KAFKA_LOG_LEVELS).join(', ')}`);

  const client: KafkaConfig = {
    brokers,
    clientId: params.get('clientId') ?? 'ecomm-data-platform',
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries, initialRetryTime, maxRetryTime: 30_000 },
    logLevel,
  };
  // Group timing: how soon a member that died (SIGKILL, lost node) is declared gone and its partitions move. A
  // restarted service's new members wait for exactly that (kafkajs has no static membership, KIP-345, so the new
  // process cannot take over the dead one's member ids), hence 6 s: the smallest session Kafka's default broker
  // (group.min.session.timeout.ms), Amazon MSK's default configuration and Event Hubs all accept. Heartbeats every
  // second leave five missed ones before a live member is dropped. Event Hubs has its own defaults (below).
  const timing = groupTiming(params, profile, fail);
  const consumer: KafkaStreamConfig['consumer'] = {
    ...timing,
    // Long-poll bound: a caught-up consume ends at most this long after its last fetch was sent.
    maxWaitTimeInMs: 500,
    metadataMaxAge: 300_000,
  };
  const describe: KafkaStreamConfig['describe'] = {
    profile,
    brokers,
    tls: false,
    sasl: 'none',
    attempts: retries + 1,
  };

  if (profile === 'msk-iam') {
    const region = params.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) return fail('auth=msk-iam needs a region: add ?region=<aws region> or set AWS_REGION');
    // AWS's documented kafkajs setup (aws-msk-iam-sasl-signer-js README): TLS + OAUTHBEARER, a fresh signed
    // token per (re)authentication; kafkajs re-authenticates before the broker's session lifetime ends.
    const sasl: SASLOptions = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await signer.generateAuthToken({ region })).token }),
    };
    Object.assign(client, { ssl: true, sasl, connectionTimeout: 10_000, authenticationTimeout: 10_000 });
    Object.assign(describe, { tls: true, sasl: 'oauthbearer', region });
  }

  if (profile === 'entra') {
    const scope = entraScope(brokers, fail);
    const sasl: SASLOptions = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => {
        const token = await credential.getToken(scope);
        if (token === null) throw new Error(`Microsoft Entra ID gave no token for ${scope}`);
        return { value: token.token };
      },
    };
    // Event Hubs' recommended client settings, as for auth=eventhubs below.
    Object.assign(client, {
      ssl: true,
      sasl,
      connectionTimeout: 10_000,
      authenticationTimeout: 10_000,
      requestTimeout: 60_000,
    });
    Object.assign(consumer, { metadataMaxAge: 180_000 });
    Object.assign(describe, { tls: true, sasl: 'oauthbearer', scope });
  }

  if (profile === 'eventhubs') {
    const variable = params.get('connectionStringEnv') ?? 'EVENTHUBS_CONNECTION_STRING';
    const connectionString = env[variable];
    if (!connectionString)
      return fail(
        `auth=eventhubs needs ${variable} (the Event Hubs namespace connection string) in the environment`,
      );
    if (!/^Endpoint=sb:\/\//i.test(connectionString.trim()))
      fail(`${variable} is not an Event Hubs connection string (expected Endpoint=sb://…;SharedAccessKey…)`);
    const sasl: SASLOptions = {
      mechanism: 'plain',
      username: '$ConnectionString',
      password: connectionString,
    };
    // Microsoft's recommended Kafka client settings for Event Hubs
    // (learn.microsoft.com/azure/event-hubs/apache-kafka-configurations): request.timeout.ms 60000 with
    // consumers, metadata.max.age.ms ~180000 (< 240000: Azure drops TCP
    // connections idle for 240 s), requests under 1,046,528 bytes (publish chunks well below that).
    Object.assign(client, { ssl: true, sasl, connectionTimeout: 10_000, requestTimeout: 60_000 });
    Object.assign(consumer, { metadataMaxAge: 180_000 });
    Object.assign(describe, {
      tls: true,
      sasl: 'plain',
      username: '$ConnectionString',
      secretFromEnv: variable,
    });
  }

  return {
    client,
    consumer,
    producer: { idempotent, metadataMaxAge: consumer.metadataMaxAge ?? 300_000 },
    retry: { attempts: retries + 1, baseDelayMs: Math.max(initialRetryTime, 1), maxDelayMs: 5_000 },
    describe,
  };
}

/** `https://<namespace>.servicebus.windows.net/.default`: the one namespace every broker address must name. */
function entraScope(brokers: string[], fail: (problem: string) => never): string {
  const hosts = [...new Set(brokers.map((broker) => broker.replace(/:\d+$/, '').toLowerCase()))];
  if (hosts.length !== 1) return fail(`auth=entra takes one Event Hubs namespace, got ${hosts.join(', ')}`);
  const [host = ''] = hosts;
  if (!/^[a-z0-9-]+\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/.test(host))
    return fail(
      `auth=entra needs an Event Hubs namespace host (<namespace>.servicebus.windows.net), got ${host}`,
    );
  return `https://${host}/.default`;
}

function parseBroker(text: string, defaultPort: number, fail: (problem: string) => never): string {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d+))?$/i.exec(text.trim());
  if (!match) return fail(`"${text}" is not a broker address (host or host:port)`);
  const [, host = '', portText] = match;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`"${text}" has an invalid port`);
  return `${host}:${port}`;
}

/** Event Hubs' Kafka endpoint accepts sessions of 6 s to 5 min and asks clients to keep 3 s heartbeats. */
const EVENT_HUBS_SESSION = { min: 6_000, max: 300_000 };

/**
 * sessionTimeout, heartbeatInterval and rebalanceTimeout from the URL, checked here rather than by kafkajs, which
 * refuses a heartbeat not below the session only when a consumer is created (the service would retry forever).
 */
function groupTiming(
  params: URLSearchParams,
  profile: KafkaAuthProfile,
  fail: (problem: string) => never,
): { sessionTimeout: number; heartbeatInterval: number; rebalanceTimeout: number } {
  const eventHubs = profile === 'eventhubs' || profile === 'entra';
  // Event Hubs: Microsoft recommends heartbeats of 3 s, unchanged; a 10 s session leaves three of them.
  const sessionTimeout = integerParam(params, 'sessionTimeout', eventHubs ? 10_000 : 6_000, fail);
  const heartbeatInterval = integerParam(params, 'heartbeatInterval', eventHubs ? 3_000 : 1_000, fail);
  const rebalanceTimeout = integerParam(params, 'rebalanceTimeout', 60_000, fail);
  if (sessionTimeout < 1) fail('sessionTimeout must be at least 1 ms');
  if (heartbeatInterval < 1 || heartbeatInterval >= sessionTimeout)
    fail(
      `heartbeatInterval (${heartbeatInterval}) must be at least 1 and below sessionTimeout (${sessionTimeout}); ` +
        'a third of it or less',
    );
  if (eventHubs && (sessionTimeout < EVENT_HUBS_SESSION.min || sessionTimeout > EVENT_HUBS_SESSION.max))
    fail(
      `sessionTimeout (${sessionTimeout}) must be between ${EVENT_HUBS_SESSION.min} and ${EVENT_HUBS_SESSION.max} ` +
        'ms on Event Hubs',
    );
  return { sessionTimeout, heartbeatInterval, rebalanceTimeout };
}

function integerParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  fail: (problem: string) => never,
): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a whole number >= 0`);
  return value;
}

/**
 * DefaultAzureCredential, made on the first token asked for (it loads @azure/identity) and kept, so its token
 * cache serves re-authentications: a managed identity in Azure (AZURE_CLIENT_ID picks a user-assigned one).
 */
let entraCredential: Promise<EntraCredential> | undefined;
const lazyEntraCredential: EntraCredential = {
  async getToken(scope) {
    entraCredential ??= import('@azure/identity').then(
      ({ DefaultAzureCredential }) => new DefaultAzureCredential(),
    );
    return (await entraCredential).getToken(scope);
  },
};

/** The real signer, loaded only when an MSK token is first needed (it pulls in the AWS SDK). */
const lazyMskSigner: MskSigner = {
  async generateAuthToken(options) {
    const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
    return generateAuthToken(options);
  },
};
