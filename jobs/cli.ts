#!/usr/bin/env node
/**
 * The `ecomm` entry (the image's ENTRYPOINT, package.json's bin). About two thirds of a job's start-up is compiling
 * its modules; Node's compile cache (in the OS temp folder; a read-only one only skips it) keeps them compiled
 * across runs, which every hourly step and every per-step process starts with. It must be on before the commands'
 * module graph loads, hence the dynamic import.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
/** How long the process may linger after its job returned. */
const LINGER_MS = 3_000;
const { runFromCli } = await import('./commands.ts');
const exitCode = await runFromCli(process.argv.slice(2));
process.exitCode = exitCode;
// The job has finished and closed what it opened: a client still retrying in the background (a Kafka consumer
// leaving its group while the broker's coordinator reloads) must not hold the process, and a stop request, up to
// the shutdown grace and turn a clean exit into 143. Normally the process has exited long before this fires.
setTimeout(() => process.exit(exitCode), LINGER_MS).unref();
