/** The AWS stack under mocks: every spec item exists with the right inputs. */
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_CATALOG, type JobSpec, STREAM_TOPICS, warehouseLoginOf } from '../jobs/catalog.ts';
import { expectedEnvironment } from './testing/fixtures.ts';
import type { RecordedResource } from './testing/mock-cloud.ts';
import { startMockCloud } from './testing/mock-cloud.ts';
import { field, ofType, onlyOne } from './testing/resources.ts';
import type { DeployedStack } from './testing/stacks.ts';

/** The catalog jobs the stacks deploy: all but the admin's `grants`, which an operator runs by hand. */
const DEPLOYED_JOBS = JOB_CATALOG.filter((job) => job.warehouseAdmin !== true);

const cloud = await startMockCloud();
const { deploy, specFor } = await import('./testing/stacks.ts');

let stack: DeployedStack;
let resources: RecordedResource[];
beforeAll(async () => {
  stack = await deploy(cloud, specFor('aws'));
  resources = stack.resources;
});

const containerOf = (task: RecordedResource) =>
  (JSON.parse(String(task.inputs.containerDefinitions)) as Record<string, unknown>[])[0] as Record<
    string,
    unknown
  >;
const taskFor = (name: string) =>
  resources.find(
    (r) => r.type === 'aws:ecs/taskDefinition:TaskDefinition' && r.inputs.family === `ecomm-test-${name}`,
  );
const serviceNamed = (name: string) => {
  const found = resources.filter((r) => r.type === 'aws:ecs/service:Service' && r.inputs.name === name);
  if (found.length !== 1) throw new Error(`expected one ECS service ${name}, found ${found.length}`);
  return found[0] as RecordedResource;
};
const SERVICES = DEPLOYED_JOBS.filter((j) => j.kind === 'service');
const healthCommand = (port: number) => [
  'CMD',
  'node',
  '-e',
  `fetch('http://127.0.0.1:${port}/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))`,
];
/** The ingress rules on the security groups an ECS service's tasks are in. */
const ingressInto = (name: string) => {
  const groups = field<string[]>(serviceNamed(name).inputs, 'networkConfiguration', 'securityGroups');
  return ofType(resources, 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')
    .filter((r) => groups.includes(String(r.inputs.securityGroupId)))
    .map((r) => ({
      ipProtocol: r.inputs.ipProtocol,
      fromPort: r.inputs.fromPort,
      toPort: r.inputs.toPort,
      cidrIpv4: r.inputs.cidrIpv4,
      referencedSecurityGroupId: r.inputs.referencedSecurityGroupId,
    }));
};

describe('AWS stack inventory', () => {
  it('exports the adapter URLs in the forms the jobs read', () => {
    expect(stack.outputs.LAKE_URL).toMatch(/^s3:\/\/ecomm-test-lake-/);
    expect(stack.outputs.STREAM_URL).toMatch(
      /^kafka:\/\/b-1\..+:9098,b-2\..+:9098\?auth=msk-iam&region=eu-west-1$/,
    );
    expect(stack.outputs.WAREHOUSE_URL).toMatch(
      /^redshift:\/\/ecomm_admin@[^:]+:5439\/ecomm\?sslmode=require&passwordSecret=arn%3Aaws%3Asecretsmanager%3A.+redshift/,
    );
    expect(stack.outputs.SOURCE_URL).toBe(
      'postgres://ecomm_reader@oltp.example.internal:5432/shop?sslmode=require&passwordSecret=SOURCE_PASSWORD',
    );
    expect(stack.outputs.SECRETS_URL).toBe('aws-secretsmanager://eu-west-1?prefix=ecomm-test/');
    expect(stack.outputs.imageRef).toMatch(
      /\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/ecomm-test\/ecomm-data-platform:2025\.01\.0$/,
    );
  });

  it('expires each lake zone after its retention and old versions after 30 days', () => {
    const rules = field<Record<string, unknown>[]>(
      onlyOne(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').inputs,
      'rules',
    );
    expect(
      rules.map((r) => [
        field(r, 'filter', 'prefix'),
        field(r, 'expiration', 'days'),
        field(r, 'noncurrentVersionExpiration', 'noncurrentDays'),
      ]),
    ).toEqual([
      ['raw/', 365, 30],
      ['staging/', 30, 30],
      ['quarantine/', 90, 30],
    ]);
  });

  it('creates an MSK topic per event topic and the dead-letter topic, with partitions and retention', () => {
    const topics = ofType(resources, 'aws:msk/topic:Topic');
    expect(topics.map((t) => t.inputs.name).sort()).toEqual(
      [...STREAM_TOPICS.map((t) => t.topic), 'dead-letter'].sort(),
    );
    for (const topic of STREAM_TOPICS) {
      const created = topics.find((t) => t.inputs.name === topic.topic);
      expect(created?.inputs.partitionCount).toBe(topic.partitions);
      expect(JSON.parse(String(created?.inputs.configs))['retention.ms']).toBe(String(168 * 3_600_000));
    }
  });

  it('runs MSK provisioned with IAM auth only, a broker per zone, and Kafka that supports topic resources', () => {
    const cluster = onlyOne(resources, 'aws:msk/cluster:Cluster').inputs;
    expect(cluster.numberOfBrokerNodes).toBe(3);
    expect(cluster.kafkaVersion).toBe('3.8.x');
    expect(cluster.clientAuthentication).toEqual({ sasl: { iam: true }, unauthenticated: false });
  });

  it('creates a private Redshift Serverless workgroup whose admin password Redshift keeps in Secrets Manager', () => {
    expect(onlyOne(resources, 'aws:redshiftserverless/namespace:Namespace').inputs).toMatchObject({
      manageAdminPassword: true,
      dbName: 'ecomm',
    });
    expect(onlyOne(resources, 'aws:redshiftserverless/workgroup:Workgroup').inputs).toMatchObject({
      publiclyAccessible: false,
      baseCapacity: 8,
    });
  });

  it('defines a Fargate task per catalog job with its size, command and exactly its environment', () => {
    for (const job of DEPLOYED_JOBS) {
      const task = taskFor(job.name);
      expect(task, job.name).toBeDefined();
      const container = containerOf(task as RecordedResource);
      expect(container.command).toEqual([job.name, ...(job.args ?? [])]);
      const env = (container.environment as { name: string; value: string }[]).map((e) => e.name).sort();
      expect(env).toEqual(expectedEnvironment(job.env));
      expect(Number(task?.inputs.memory)).toBeGreaterThanOrEqual(job.memoryMiB);
      expect(Number(task?.inputs.cpu)).toBe(job.cpu * 1024);
    }
  });

  it('puts no secret value in any task definition', () => {
    const definitions = ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition').map((t) =>
      String(t.inputs.containerDefinitions),
    );
    for (const value of ['source-password-value', 'k'.repeat(48)]) {
      expect(definitions.some((d) => d.includes(value))).toBe(false);
    }
  });

  it('hands every job the stack output values for its settings', () => {
    const env = containerOf(taskFor('extract') as RecordedResource).environment as {
      name: string;
      value: string;
    }[];
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    expect(value('LAKE_URL')).toBe(stack.outputs.LAKE_URL);
    expect(value('SOURCE_URL')).toBe(stack.outputs.SOURCE_URL);
    expect(value('SECRETS_URL')).toBe(stack.outputs.SECRETS_URL);
    // The stack output is the admin's, for operators; the job connects as its own login, its password in its secret.
    const admin = new URL(stack.outputs.WAREHOUSE_URL);
    const own = new URL(String(value('WAREHOUSE_URL')));
    expect(admin.username).toBe('ecomm_admin');
    expect([own.protocol, own.username, own.host, own.pathname]).toEqual([
      'redshift:',
      'ecomm_extract',
      admin.host,
      admin.pathname,
    ]);
    expect(own.searchParams.get('passwordSecret')).toBe('ECOMM_EXTRACT_PASSWORD');
    expect(own.searchParams.get('sslmode')).toBe('require');
  });

  it('connects every warehouse job and service as its own login, never as the admin', () => {
    for (const task of ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition')) {
      const container = containerOf(task);
      const url = (container.environment as { name: string; value: string }[]).find(
        (e) => e.name === 'WAREHOUSE_URL',
      )?.value;
      const name = (container.command as string[])[0] as string;
      const job = DEPLOYED_JOBS.find((j) => j.name === name) as JobSpec;
      if (!job.env.includes('WAREHOUSE_URL')) {
        expect(url, name).toBeUndefined();
        continue;
      }
      const parsed = new URL(String(url));
      expect(parsed.username, name).toBe(warehouseLoginOf(name));
      expect(parsed.searchParams.get('passwordSecret'), name).toBe(
        `${warehouseLoginOf(name).toUpperCase()}_PASSWORD`,
      );
    }
  });

  it('schedules exactly the scheduled jobs, in UTC with EventBridge cron, through their run state machines', () => {
    const schedules = ofType(resources, 'aws:scheduler/schedule:Schedule');
    expect(schedules.map((s) => s.inputs.name).sort()).toEqual(['run', 'watchdog']);
    const run = schedules.find((s) => s.inputs.name === 'run');
    expect(run?.inputs).toMatchObject({
      scheduleExpression: 'cron(5 * * * ? *)',
      scheduleExpressionTimezone: 'UTC',
      flexibleTimeWindow: { mode: 'OFF' },
    });
    expect(field(run?.inputs, 'target', 'arn')).toMatch(/stateMachine:ecomm-test-run-run$/);
    // A start the scheduler could not make within a minute is dropped, not made late: the freshness bound's allowance.
    expect(field(run?.inputs, 'target', 'retryPolicy')).toEqual({
      maximumRetryAttempts: 3,
      maximumEventAgeInSeconds: 60,
    });
  });

  it('gives every job, manual ones included, a run state machine with its timeout, retries and backoff', () => {
    const runs = ofType(resources, 'aws:sfn/stateMachine:StateMachine');
    expect(runs).toHaveLength(DEPLOYED_JOBS.filter((j) => j.kind !== 'service').length);
    const taskOf = (name: string) =>
      field<Record<string, unknown>>(
        JSON.parse(String(runs.find((r) => r.inputs.name === `ecomm-test-${name}-run`)?.inputs.definition)),
        'States',
        'RunJob',
      );
    expect(taskOf('run').TimeoutSeconds).toBe(6 * 60);
    expect(field(taskOf('run'), 'Retry', 0)).toMatchObject({
      MaxAttempts: 1,
      IntervalSeconds: 30,
      BackoffRate: 2,
    });
    expect(taskOf('transform').TimeoutSeconds).toBe(45 * 60);
    expect(field(taskOf('transform'), 'Retry', 0)).toMatchObject({ MaxAttempts: 1, IntervalSeconds: 60 });
  });

  it("passes each attempt its execution's name as RUN_EXECUTION_ID, in the task's own container", () => {
    for (const job of DEPLOYED_JOBS.filter((j) => j.kind !== 'service')) {
      const run = resources.find(
        (r) =>
          r.type === 'aws:sfn/stateMachine:StateMachine' && r.inputs.name === `ecomm-test-${job.name}-run`,
      );
      const overrides = field<{ Name: string; Environment: unknown[] }[]>(
        JSON.parse(String(run?.inputs.definition)),
        'States',
        'RunJob',
        'Parameters',
        'Overrides',
        'ContainerOverrides',
      );
      expect(overrides, job.name).toEqual([
        {
          Name: containerOf(taskFor(job.name) as RecordedResource).name,
          Environment: [{ Name: 'RUN_EXECUTION_ID', 'Value.$': '$$.Execution.Name' }],
        },
      ]);
    }
  });

  it('runs every catalog service, and only those, as an ECS service on its own task definition', () => {
    expect(
      ofType(resources, 'aws:ecs/service:Service')
        .map((s) => s.inputs.name)
        .sort(),
    ).toEqual(SERVICES.map((j) => j.name).sort());
    for (const job of SERVICES) {
      expect(String(serviceNamed(job.name).inputs.taskDefinition), job.name).toMatch(
        new RegExp(`task-definition/ecomm-test-${job.name}:`),
      );
    }
  });

  it('runs each service with its replicas, a graceful stop, rollback on failed deploys and a health check on its port', () => {
    for (const job of SERVICES) {
      const spec = stack.spec.services.find((s) => s.name === job.name);
      const service = serviceNamed(job.name).inputs;
      expect(service, job.name).toMatchObject({ desiredCount: spec?.replicas, launchType: 'FARGATE' });
      expect(service.deploymentCircuitBreaker, job.name).toEqual({ enable: true, rollback: true });
      const container = containerOf(taskFor(job.name) as RecordedResource);
      expect(container.stopTimeout, job.name).toBe(120);
      expect(container.portMappings, job.name).toEqual([{ containerPort: job.port, protocol: 'tcp' }]);
      expect(container.healthCheck, job.name).toEqual({
        command: healthCommand(job.port as number),
        interval: 30,
        timeout: 5,
        retries: 3,
        startPeriod: 30,
      });
    }
  });

  it('runs stream-ingest with the configured replicas and its health check on 8080, open to nobody', () => {
    expect(serviceNamed('stream-ingest').inputs).toMatchObject({ desiredCount: 1, launchType: 'FARGATE' });
    const container = containerOf(taskFor('stream-ingest') as RecordedResource);
    expect(container.command).toEqual(['stream-ingest', '--follow']);
    expect(field(container, 'healthCheck', 'command')).toEqual(healthCommand(8080));
    expect(ingressInto('stream-ingest')).toEqual([]);
  });

  it('runs the monitor as one task serving 8090, reachable on that port from inside the VPC only', () => {
    expect(serviceNamed('monitor').inputs).toMatchObject({ desiredCount: 1, launchType: 'FARGATE' });
    const container = containerOf(taskFor('monitor') as RecordedResource);
    expect(container.command).toEqual(['monitor', '--host', '0.0.0.0']);
    expect(container.portMappings).toEqual([{ containerPort: 8090, protocol: 'tcp' }]);
    expect(field(container, 'healthCheck', 'command')).toEqual(healthCommand(8090));
    expect(ingressInto('monitor')).toEqual([
      {
        ipProtocol: 'tcp',
        fromPort: 8090,
        toPort: 8090,
        cidrIpv4: stack.spec.network.cidr,
        referencedSecurityGroupId: undefined,
      },
    ]);
    // The monitor's extra group is its own: the other tasks do not take connections on 8090.
    const groupsOf = (name: string) =>
      field<string[]>(serviceNamed(name).inputs, 'networkConfiguration', 'securityGroups');
    const [jobsGroup, monitorGroup] = groupsOf('monitor');
    expect(groupsOf('stream-ingest')).toEqual([jobsGroup]);
    for (const run of ofType(resources, 'aws:sfn/stateMachine:StateMachine')) {
      expect(String(run.inputs.definition)).not.toContain(String(monitorGroup));
    }
  });

  it('gives batch jobs no port and no health check (they serve nothing and exit)', () => {
    for (const job of DEPLOYED_JOBS.filter((j) => j.kind !== 'service')) {
      const container = containerOf(taskFor(job.name) as RecordedResource);
      expect(container.portMappings, job.name).toBeUndefined();
      expect(container.healthCheck, job.name).toBeUndefined();
    }
  });

  it('gives every job and every service an identity of its own', () => {
    const taskRoles = ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition').map(
      (t) => t.inputs.taskRoleArn,
    );
    expect(new Set(taskRoles).size).toBe(DEPLOYED_JOBS.length);
  });

  it('stores the config secrets and each login password in Secrets Manager under the stack prefix and the names jobs ask for', () => {
    const logins = DEPLOYED_JOBS.filter((j) => j.env.includes('WAREHOUSE_URL')).map(
      (j) => `ecomm-test/${warehouseLoginOf(j.name).toUpperCase()}_PASSWORD`,
    );
    expect(logins).toContain('ecomm-test/ECOMM_STREAM_INGEST_PASSWORD');
    expect(
      ofType(resources, 'aws:secretsmanager/secret:Secret')
        .map((s) => s.inputs.name)
        .sort(),
    ).toEqual(['ecomm-test/PII_HASH_KEY', 'ecomm-test/SOURCE_PASSWORD', ...logins].sort());
    expect(ofType(resources, 'aws:secretsmanager/secretVersion:SecretVersion')).toHaveLength(
      2 + logins.length,
    );
  });

  it('creates an alarm per alert rule that notifies the alert contacts', () => {
    const alarms = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm');
    expect(alarms.map((a) => a.inputs.name).sort()).toEqual(
      stack.spec.alerts.map((a) => `ecomm-test-alert-${a.name}`).sort(),
    );
    const topicArn = String(field(alarms[0]?.inputs, 'alarmActions', 0));
    expect(alarms.every((a) => field(a.inputs, 'alarmActions', 0) === topicArn)).toBe(true);
    const emails = ofType(resources, 'aws:sns/topicSubscription:TopicSubscription').map(
      (s) => s.inputs.endpoint,
    );
    expect(emails).toEqual(['oncall@example.com', 'data-team@example.com']);
  });

  it('alarms on gold freshness when the hourly run has not succeeded for 75 minutes', () => {
    const alarm = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').find(
      (a) => a.inputs.name === 'ecomm-test-alert-batch-freshness',
    );
    expect(alarm?.inputs).toMatchObject({
      metricName: 'ExecutionsSucceeded',
      period: 300,
      evaluationPeriods: 15,
      treatMissingData: 'breaching',
    });
    expect(String(field(alarm?.inputs, 'dimensions', 'StateMachineArn'))).toMatch(
      /stateMachine:ecomm-test-run-run$/,
    );
  });

  it('puts every resource under a capability component', () => {
    const loose = stack.parents.filter((p) => p.custom && !p.parentType?.startsWith('ecomm:aws:'));
    expect(loose).toEqual([]);
    expect(stack.parents.filter((p) => p.custom).length).toBe(resources.filter((r) => r.custom).length);
  });
});
