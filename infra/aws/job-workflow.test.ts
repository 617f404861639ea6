import { describe, expect, it } from 'vitest';
import { jobRunDefinition, runLimitsOf } from './job-workflow.ts';

const base = {
  jobName: 'run',
  clusterArn: 'arn:aws:ecs:eu-west-1:1:cluster/c',
  taskDefinitionArn: 'arn:aws:ecs:eu-west-1:1:task-definition/ecomm-test-run:3',
  subnetIds: ['subnet-1'],
  securityGroupIds: ['sg-1'],
  containerName: 'job',
  timeoutMinutes: 30,
  retries: 2,
  retryBackoffSeconds: 45,
};

type RunJobState = { States: { RunJob: Record<string, unknown> } };

describe('job run workflow', () => {
  it('runs the task to completion in private subnets without a public IP', () => {
    const definition = jobRunDefinition(base) as RunJobState;
    expect(definition.States.RunJob).toMatchObject({
      Resource: 'arn:aws:states:::ecs:runTask.sync',
      Parameters: {
        LaunchType: 'FARGATE',
        NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      },
    });
  });

  it('times out each attempt at the catalog timeout and retries as often as the catalog says', () => {
    expect(runLimitsOf(JSON.stringify(jobRunDefinition(base)))).toEqual({
      timeoutMinutes: 30,
      retries: 2,
      retryBackoffSeconds: 45,
    });
    expect(runLimitsOf(JSON.stringify(jobRunDefinition({ ...base, retries: 0 })))).toEqual({
      timeoutMinutes: 30,
      retries: 0,
      retryBackoffSeconds: null,
    });
  });

  it("waits the catalog's backoff before the first retry, doubling before each next one", () => {
    const definition = jobRunDefinition(base) as RunJobState;
    expect(definition.States.RunJob.Retry).toEqual([
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 45, BackoffRate: 2, MaxAttempts: 2 },
    ]);
  });

  it('gives the whole run room for every attempt and the backoff between them', () => {
    const definition = jobRunDefinition(base) as { TimeoutSeconds: number };
    expect(definition.TimeoutSeconds).toBe(30 * 60 * 3 + 45 + 90 + 60);
  });

  it('hands every attempt the execution name as RUN_EXECUTION_ID, so a retry knows its execution', () => {
    const definition = jobRunDefinition(base) as RunJobState;
    expect(definition.States.RunJob.Parameters).toMatchObject({
      Overrides: {
        ContainerOverrides: [
          { Name: 'job', Environment: [{ Name: 'RUN_EXECUTION_ID', 'Value.$': '$$.Execution.Name' }] },
        ],
      },
    });
    // The override is a path into the context object, resolved per execution, never a fixed value.
    expect(JSON.stringify(definition)).not.toMatch(/"Value":/);
  });
});
