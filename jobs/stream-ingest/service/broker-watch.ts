/**
 * What the stream service knows about the broker without waiting for it: the last lag it measured, and whether the
 * broker is failing it (since when, the last error). /status and /readyz read these and answer at once, so a
 * broker outage is reported instead of making the probes hang on kafkajs' retries.
 */
export interface PartitionLag {
  topic: string;
  partition: number;
  endOffset: number;
  committedOffset: number;
  lag: number;
}

export interface BrokerOutage {
  /** The first failure since the broker last answered. */
  since: string;
  lastError: string;
  lastErrorAt: string;
}

/** Failures of the consumers and of the lag reads, cleared by the next answer of the broker. */
export interface OutageTracker {
  failed(error: unknown): void;
  answered(): void;
  current(): BrokerOutage | null;
}

export function outageTracker(now: () => Date): OutageTracker {
  let outage: BrokerOutage | null = null;
  return {
    failed(error) {
      const at = now().toISOString();
      const message = error instanceof Error ? error.message : String(error);
      outage = { since: outage?.since ?? at, lastError: message, lastErrorAt: at };
    },
    answered() {
      outage = null;
    },
    current: () => outage,
  };
}

export interface LagReading {
  lag: PartitionLag[];
  /** When the broker gave these figures; null before it ever answered. */
  measuredAt: string | null;
  /** The broker did not answer this read in time: the figures are the last known ones. */
  stale: boolean;
}

export interface LagMonitor {
  /** A fresh measurement if the broker answers within the wait, else the last known one (never waits longer). */
  read(): Promise<LagReading>;
}

export interface LagMonitorOptions {
  /** The lag per partition; null when there is nothing to ask yet (no consumer opened). */
  measure: () => Promise<PartitionLag[] | null>;
  outage: OutageTracker;
  now: () => Date;
  /** How long a read waits for the broker before answering with the last known lag. */
  waitMs: number;
  /** A measurement outstanding this long means the broker is not answering (kafkajs still retrying). */
  outageAfterMs: number;
}

export function lagMonitor({ measure, outage, now, waitMs, outageAfterMs }: LagMonitorOptions): LagMonitor {
  let last: { lag: PartitionLag[]; measuredAt: string } | null = null;
  let pending: { done: Promise<void>; startedAt: number } | null = null;

  const start = () => {
    const startedAt = Date.now();
    const done = measure().then(
      (lag) => {
        if (lag === null) return;
        last = { lag, measuredAt: now().toISOString() };
        outage.answered();
      },
      (error: unknown) => outage.failed(error),
    );
    const entry = { done, startedAt };
    pending = entry;
    void done.finally(() => {
      if (pending === entry) pending = null;
    });
    return entry;
  };

  return {
    async read() {
      // One measurement at a time once the broker is slow: kafkajs keeps retrying it, a second would only pile up.
      const outstanding = pending;
      const slow = outstanding !== null && Date.now() - outstanding.startedAt >= waitMs;
      const measurement = slow ? outstanding : start();
      if (Date.now() - measurement.startedAt >= outageAfterMs)
        outage.failed(new Error(`the broker has not answered for ${Date.now() - measurement.startedAt} ms`));
      const before = last;
      let timer: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        measurement.done.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), slow ? 0 : waitMs);
        }),
      ]);
      clearTimeout(timer);
      const fresh = answered && last !== before;
      return { lag: last?.lag ?? [], measuredAt: last?.measuredAt ?? null, stale: !fresh };
    },
  };
}
