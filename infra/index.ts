/**
 * Pulumi entry point (Pulumi.yaml `main`). The stack name picks the cloud and the environment
 * (`aws-prod`, `azure-staging`); every stack exports the same outputs, the settings every job reads.
 */
import * as pulumi from '@pulumi/pulumi';
import { runPlatform } from './platform.ts';

const outputs = await runPlatform(pulumi.runtime.allConfig(), pulumi.getStack());

export const LAKE_URL = outputs.LAKE_URL;
export const STREAM_URL = outputs.STREAM_URL;
export const WAREHOUSE_URL = outputs.WAREHOUSE_URL;
export const SOURCE_URL = outputs.SOURCE_URL;
export const SECRETS_URL = outputs.SECRETS_URL;
// Set only where the stack configures the source: what an operator hands a job run by hand.
export const CRM_SOURCE_URL = outputs.CRM_SOURCE_URL;
export const HISTORY_SOURCE_URL = outputs.HISTORY_SOURCE_URL;
export const FX_SOURCE_URL = outputs.FX_SOURCE_URL;
export const imageRef = outputs.imageRef;
