/** What validating a raw batch produced: shared by the job, its worker threads and the stream service. */
export interface ValidatedBatch {
  batchId: string;
  source: string;
  rowsIn: number;
  staged: number;
  quarantined: number;
  rescued: number;
  reasons: Map<string, number>;
}

/** Where a batch's records came from and where its staged and quarantined rows go. */
export interface ValidationTarget {
  batchId: string;
  source: string;
  ingestionDate: string;
  rawKey: string;
}

export interface ValidationOutcome extends ValidatedBatch {
  stagedKey: string;
  /** Null when nothing was quarantined (an older quarantine object of the same batch is emptied). */
  quarantineKey: string | null;
}
