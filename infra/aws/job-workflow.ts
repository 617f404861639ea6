/**
 * The Step Functions definition that runs one job: start its Fargate task, wait for it to exit, and
 * retry a failed or timed-out run as the catalog says. ECS alone has no task timeout and no retry
 * of a failed task, and EventBridge Scheduler only retries the call that starts the run; this gives
 * AWS the same semantics as Container Apps Jobs' replicaTimeout and replicaRetryLimit. Every attempt gets the
 * execution's name as RUN_EXECUTION_ID, the same for each retry, so a retried `ecomm run` resumes the execution it
 * belongs to (Container Apps gives its replicas CONTAINER_APP_JOB_EXECUTION_NAME the same way).
 */
import { RUN_EXECUTION_ID_ENV } from '../../jobs/catalog.ts';
import { RETRY_BACKOFF_RATE, retryWaitsSeconds } from '../batch-freshness.ts';

export interface JobRunDefinitionArgs {
  jobName: string;
  clusterArn: string;
  taskDefinitionArn: string;
  subnetIds: string[];
  securityGroupIds: string[];
  /** The task definition's container, which gets RUN_EXECUTION_ID. */
  containerName: string;
  timeoutMinutes: number;
  retries: number;
  /** Wait before the first retry; each next wait is RETRY_BACKOFF_RATE times longer. */
  retryBackoffSeconds: number;
}

export function jobRunDefinition(args: JobRunDefinitionArgs): Record<string, unknown> {
  const attemptSeconds = args.timeoutMinutes * 60;
  const waitSeconds = retryWaitsSeconds(args).reduce((sum, wait) => sum + wait, 0);
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
          Overrides: {
            ContainerOverrides: [
              {
                Name: args.containerName,
                // `$$` is the context object: the execution's name, unchanged across this state's retries.
                Environment: [{ Name: RUN_EXECUTION_ID_ENV, 'Value.$': '$$.Execution.Name' }],
              },
            ],
          },
        },
        // On timeout Step Functions stops the task, like replicaTimeout on Azure.
        TimeoutSeconds: attemptSeconds,
        Retry:
          args.retries > 0
            ? [
                {
                  ErrorEquals: ['States.ALL'],
                  IntervalSeconds: args.retryBackoffSeconds,
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

/** Reads timeout, retries and the first retry's wait back out of a definition (for checks against the spec and Azure). */
export function runLimitsOf(definition: string): {
  timeoutMinutes: number;
  retries: number;
  retryBackoffSeconds: number | null;
} {
  const parsed = JSON.parse(definition) as {
    States: {
      RunJob: { TimeoutSeconds: number; Retry: { MaxAttempts: number; IntervalSeconds: number }[] };
    };
  };
  const run = parsed.States.RunJob;
  const retry = run.Retry[0];
  return {
    timeoutMinutes: run.TimeoutSeconds / 60,
    retries: retry?.MaxAttempts ?? 0,
    retryBackoffSeconds: retry?.IntervalSeconds ?? null,
  };
}
