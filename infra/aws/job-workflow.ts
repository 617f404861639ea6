/**
 * The Step Functions definition that runs one job: start its Fargate task, wait for it to exit, and
 * retry a failed or timed-out run as the catalog says. ECS alone has no task timeout and no retry
 * of a failed task, and EventBridge Scheduler only retries the call that starts the run; this gives
 * AWS the same semantics as Container Apps Jobs' replicaTimeout and replicaRetryLimit.
 */

export interface JobRunDefinitionArgs {
  jobName: string;
  clusterArn: string;
  taskDefinitionArn: string;
  subnetIds: string[];
  securityGroupIds: string[];
  timeoutMinutes: number;
  retries: number;
}

export const RETRY_INTERVAL_SECONDS = 60;
export const RETRY_BACKOFF_RATE = 2;

export function jobRunDefinition(args: JobRunDefinitionArgs): Record<string, unknown> {
  const attemptSeconds = args.timeoutMinutes * 60;
  const waitSeconds = Array.from(
    { length: args.retries },
    (_, i) => RETRY_INTERVAL_SECONDS * RETRY_BACKOFF_RATE ** i,
  ).reduce((sum, wait) => sum + wait, 0);
  return {
    Comment: `Run the ${args.jobName} job once, retrying failed attempts`,
    // The whole run may take every attempt plus the waits between them, plus a minute to start.
    TimeoutSeconds: attemptSeconds * (args.retries + 1) + waitSeconds + 60,
    StartAt: 'RunJob',
    States: {
      RunJob: {
        Type: 'Task',
        Resource: 'arn:aws:states:::ecs:runTask.sync',
        Parameters: {
          LaunchType: 'FARGATE',
          Cluster: args.clusterArn,
          TaskDefinition: args.taskDefinitionArn,
          PropagateTags: 'TASK_DEFINITION',
          NetworkConfiguration: {
            AwsvpcConfiguration: {
              Subnets: args.subnetIds,
              SecurityGroups: args.securityGroupIds,
              AssignPublicIp: 'DISABLED',
            },
          },
        },
        // On timeout Step Functions stops the task, like replicaTimeout on Azure.
        TimeoutSeconds: attemptSeconds,
        Retry:
          args.retries > 0
            ? [
                {
                  ErrorEquals: ['States.ALL'],
                  IntervalSeconds: RETRY_INTERVAL_SECONDS,
                  BackoffRate: RETRY_BACKOFF_RATE,
                  MaxAttempts: args.retries,
                },
              ]
            : [],
        End: true,
      },
    },
  };
}

/** Reads timeout and retries back out of a definition (for parity checks against Azure). */
export function runLimitsOf(definition: string): { timeoutMinutes: number; retries: number } {
  const parsed = JSON.parse(definition) as {
    States: { RunJob: { TimeoutSeconds: number; Retry: { MaxAttempts: number }[] } };
  };
  const run = parsed.States.RunJob;
  return { timeoutMinutes: run.TimeoutSeconds / 60, retries: run.Retry[0]?.MaxAttempts ?? 0 };
}
