/**
 * One interface for every upstream system the extract job reads (the OLTP database, a CRM, a historical
 * warehouse, an FX vendor). A connector reads a stream's changes in windows ordered by a cursor; the extract job
 * owns the checkpoint (ops.watermarks) and moves it only after the window's raw object is written (invariant 3).
 *
 * The job, not the connector, knows the contracts: it hands each connector the streams to read (names, columns,
 * key, cursor), so adapters/ stays free of jobs/.
 */

/**
 * The setting naming a source's URL: `SOURCE_URL` (the OLTP database) or one more source's (`CRM_SOURCE_URL`),
 * named in every error about it.
 */
export type SourceSetting = 'SOURCE_URL' | `${string}_SOURCE_URL`;

/** One stream of a source: what the lake and bronze call it, and how its changes are ordered. */
export interface SourceStream {
  /** The lake's `source=<name>` and the bronze table's name: unique across all configured sources. */
  name: string;
  /** What the source calls it: a table, a CRM object type (`contacts`), an endpoint path. */
  remoteName: string;
  /** The raw CSV's header, in this order; a connector writes exactly these columns. */
  columns: string[];
  /** Together unique per row version in the source. */
  primaryKey: string[];
  /**
   * The column whose value grows whenever a row changes (`updated_at`, `hs_lastmodifieddate`). Windows never split
   * its ties: every row sharing the window's last value is in that window.
   */
  cursor: string;
}

/** What the extract job asks of one window. Cursor values travel as text: a JS Date would cut microseconds. */
export interface WindowRequest {
  /** The checkpoint: the cursor value the previous window ended at (its rows were all read), null at first. */
  after: string | null;
  /** Read again this far behind `after` (seconds): a change committed late with an older cursor is caught. */
  lookbackSeconds: number;
  /** Leave cursor values newer than (source's now - lag) to a later window: they may still be written. */
  safetyLagSeconds: number;
}

/** The rows of one window as CSV bytes (header line first); the writer returns the number of data rows. */
export type WindowWriter = (csv: AsyncIterable<Buffer>) => Promise<number>;

export interface SourceWindow {
  /** The new checkpoint (the largest cursor value in the window), null when nothing is newer than `after`. */
  upTo: string | null;
  /** Where the re-read began (exclusive), null without a checkpoint or without anything new. */
  rereadFrom: string | null;
  rows: number;
  /** Rows of the window at or below `after`: read again by the lookback. */
  reread: number;
}

/** Rows no window can ever read (cursor missing, or in the source's future), reported as a finding. */
export interface UnreadableRows {
  count: number;
  /** The first few keys, as text, with their cursor value. */
  sample: string[];
}

export interface SourceConnector {
  /** The URL scheme it serves (`postgres`, `pglite`, `hubspot`, `snowflake`, `fx+https`), for logs and lineage. */
  readonly kind: string;
  /** Fails with a message naming the missing streams (or the refused credential) before any window is read. */
  check(streams: SourceStream[]): Promise<void>;
  /**
   * Reads one window of `stream` and, only when it holds rows, hands them to `write` once. A connector that pages
   * (an HTTP API) streams page after page into that one CSV; it retries rate limits and server errors itself.
   */
  readWindow(stream: SourceStream, request: WindowRequest, write: WindowWriter): Promise<SourceWindow>;
  unreadable(stream: SourceStream): Promise<UnreadableRows>;
  close(): Promise<void>;
}

/** check() found streams the source does not have; `missing` holds their remote names. */
export class MissingStreamsError extends Error {
  readonly missing: string[];
  constructor(message: string, missing: string[]) {
    super(message);
    this.name = 'MissingStreamsError';
    this.missing = missing;
  }
}
