#!/usr/bin/env node
/**
 * The `ecomm` entry (the image's ENTRYPOINT, package.json's bin). About two thirds of a job's start-up is compiling
 * its modules; Node's compile cache (in the OS temp folder; a read-only one only skips it) keeps them compiled
 * across runs, which every hourly step and every per-step process starts with. It must be on before the commands'
 * module graph loads, hence the dynamic import.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { runFromCli } = await import('./commands.ts');
process.exitCode = await runFromCli(process.argv.slice(2));
