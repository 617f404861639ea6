import type { SecretStore } from '../secrets/secret-store.ts';
import { pickFactory } from '../url.ts';
import type { SqlDatabase } from '../warehouse/sql-database.ts';
import { openFxSource } from './fx-http.ts';
import { openHubSpotSource } from './hubspot.ts';
import { openSnowflakeSource } from './snowflake.ts';
import type { SourceConnector, SourceSetting } from './source-connector.ts';
import { openSqlSource } from './sql.ts';

export type {
  SourceConnector,
  SourceSetting,
  SourceStream,
  SourceWindow,
  UnreadableRows,
  WindowRequest,
  WindowWriter,
} from './source-connector.ts';
export { MissingStreamsError } from './source-connector.ts';

export interface OpenSourceOptions {
  /** Credentials a URL names by secret (`?passwordSecret=`, an API token): URLs carry none. */
  secrets?: SecretStore;
  /**
   * A Postgres-wire connection already open on this very URL, which a SQL source reads through instead of opening
   * its own (and leaves open); other backends ignore it.
   */
  database?: SqlDatabase;
}

type SourceFactory = (
  setting: SourceSetting,
  url: string,
  options: OpenSourceOptions,
) => SourceConnector | Promise<SourceConnector>;

const SOURCE_FACTORIES: Record<string, SourceFactory> = {
  pglite: openSqlSource,
  postgres: openSqlSource,
  postgresql: openSqlSource,
  hubspot: (setting, url, options) =>
    openHubSpotSource(url, { setting, ...(options.secrets ? { secrets: options.secrets } : {}) }),
  fxrates: (setting, url, options) =>
    openFxSource(url, { setting, ...(options.secrets ? { secrets: options.secrets } : {}) }),
  snowflake: (setting, url, options) =>
    openSnowflakeSource(setting, url, options.secrets ? { secrets: options.secrets } : {}),
};

/** The connector of the source at `url`; `setting` names the variable in its errors. */
export async function openSourceConnector(
  setting: SourceSetting,
  url: string,
  options: OpenSourceOptions = {},
): Promise<SourceConnector> {
  return await pickFactory(setting, url, SOURCE_FACTORIES)(setting, url, options);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const SOURCE_SCHEMES = Object.keys(SOURCE_FACTORIES);
