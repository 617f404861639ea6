import { describe, expect, it } from 'vitest';
import { jobRunDefinition, runLimitsOf } from './job-workflow.ts';

const base = {
  jobName: 'extract',
  clusterArn: 'arn:aws:ecs:eu-west-1:1:cluster/c',
  taskDefinitionArn: 'arn:aws:ecs:eu-west-1:1:task-definition/ecomm-test-extract:3',
  subnetIds: ['subnet-1'],
  securityGroupIds: ['sg-1'],
  timeoutMinutes: 30,
  retries: 2,
};

describe('job run workflow', () => {
  it('runs the task to completion in private subnets without a public IP', () => {
    const definition = jobRunDefinition(base) as { States: { RunJob: Record<string, unknown> } };
    expect(definition.States.RunJob).toMatchObject({
      Resource: 'arn:aws:states:::ecs:runTask.sync',
      Parameters: {
        LaunchType: 'FARGATE',
        NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      },
    });
  });

  it('times out each attempt at the catalog timeout and retries as often as the catalog says', () => {
    expect(runLimitsOf(JSON.stringify(jobRunDefinition(base)))).toEqual({ timeoutMinutes: 30, retries: 2 });
    expect(runLimitsOf(JSON.stringify(jobRunDefinition({ ...base, retries: 0 })))).toEqual({
      timeoutMinutes: 30,
      retries: 0,
    });
  });

  it('gives the whole run room for every attempt and the backoff between them', () => {
    const definition = jobRunDefinition(base) as { TimeoutSeconds: number };
    expect(definition.TimeoutSeconds).toBe(30 * 60 * 3 + 60 + 120 + 60);
  });
});
