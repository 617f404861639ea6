/**
 * How a job that stopped on request says so. Apart from the context that throws it, so that code classifying a
 * batch's failure (batch-errors.ts, which validation threads load) does not load the context and every adapter.
 */

/** A job stopped on request between units of work; what it wrote so far is whole and recorded. */
export class JobStoppedError extends Error {
  /** What asked for the stop: a signal's name (SIGTERM, SIGINT), or a lost run lease (jobs/ops/run-lease.ts). */
  readonly reason: string;
  constructor(reason: string) {
    super(`stopped on request (${reason}) after finishing the unit of work in hand`);
    this.name = 'JobStoppedError';
    this.reason = reason;
  }
}
