import { describe, expect, it } from 'vitest';
import { ConfigError, EMBEDDED_DEFAULTS, loadConfig } from './config.ts';
import { contractCheckOptions } from './contracts/settings.ts';

describe('configuration', () => {
  it('falls back to the embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject(EMBEDDED_DEFAULTS);
  });

  it('lists every bad variable in one message, naming each', () => {
    try {
      loadConfig({
        LAKE_URL: 'ftp://x',
        WAREHOUSE_URL: 'mysql://u:pw@h/db',
        EXTRACT_SAFETY_LAG_SECONDS: 'soon',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/LAKE_URL \(got "ftp:\/\/x"\): must be a URL starting with file:\/\//);
      expect(message).toMatch(/WAREHOUSE_URL/);
      expect(message).toMatch(/EXTRACT_SAFETY_LAG_SECONDS/);
      expect((error as ConfigError).problems).toHaveLength(3);
    }
  });

  it('takes LOAD_CONCURRENCY and TRANSFORM_CONCURRENCY from 1 to 8 (default 2), and names a bad one with its bound', () => {
    expect(loadConfig({})).toMatchObject({ LOAD_CONCURRENCY: 2, TRANSFORM_CONCURRENCY: 2 });
    expect(loadConfig({ LOAD_CONCURRENCY: '1', TRANSFORM_CONCURRENCY: '8' })).toMatchObject({
      LOAD_CONCURRENCY: 1,
      TRANSFORM_CONCURRENCY: 8,
    });
    expect(() => loadConfig({ LOAD_CONCURRENCY: '0' })).toThrow(/LOAD_CONCURRENCY \(got "0"\): .*>=1/);
    expect(() => loadConfig({ TRANSFORM_CONCURRENCY: '9' })).toThrow(
      /TRANSFORM_CONCURRENCY \(got "9"\): .*<=8/,
    );
    expect(() => loadConfig({ LOAD_CONCURRENCY: 'two' })).toThrow(
      /LOAD_CONCURRENCY \(got "two"\): .*expected number/,
    );
  });

  it('names a bad STREAM_START_POSITION with its choices and a bad STREAM_RETENTION_ALERT_SHARE with its range', () => {
    expect(loadConfig({}).STREAM_START_POSITION).toBe('earliest');
    expect(loadConfig({ STREAM_START_POSITION: 'ledger' }).STREAM_START_POSITION).toBe('ledger');
    expect(() => loadConfig({ STREAM_START_POSITION: 'middle' })).toThrow(
      /STREAM_START_POSITION \(got "middle"\).*"earliest"\|"latest"\|"ledger"/,
    );
    expect(loadConfig({}).STREAM_RETENTION_ALERT_SHARE).toBe(0.5);
    expect(() => loadConfig({ STREAM_RETENTION_ALERT_SHARE: '1' })).toThrow(
      /STREAM_RETENTION_ALERT_SHARE \(got "1"\).*<1/,
    );
    expect(() => loadConfig({ STREAM_RETENTION_ALERT_SHARE: 'half' })).toThrow(
      /STREAM_RETENTION_ALERT_SHARE \(got "half"\)/,
    );
  });

  it('names a bad STREAM_CONSUMERS with its range', () => {
    expect(loadConfig({}).STREAM_CONSUMERS).toBe(3);
    expect(() => loadConfig({ STREAM_CONSUMERS: '0' })).toThrow(/STREAM_CONSUMERS \(got "0"\).*1/);
    expect(() => loadConfig({ STREAM_CONSUMERS: 'many' })).toThrow(/STREAM_CONSUMERS/);
  });

  it('never repeats a password from a bad URL', () => {
    expect(() => loadConfig({ WAREHOUSE_URL: 'mysql://admin:hunter2@db/x' })).toThrow(
      /mysql:\/\/admin:\*\*\*@db\/x/,
    );
    expect(() => loadConfig({ WAREHOUSE_URL: 'mysql://admin:hunter2@db/x' })).not.toThrow(/hunter2/);
  });

  it('reads the monitor host allow-list as names, refusing ports and wildcards by name', () => {
    expect(loadConfig({}).MONITOR_ALLOWED_HOSTS).toEqual([]);
    expect(
      loadConfig({ MONITOR_ALLOWED_HOSTS: ' monitor.data.internal, 10.40.1.5 ,[fd00::5]' })
        .MONITOR_ALLOWED_HOSTS,
    ).toEqual(['monitor.data.internal', '10.40.1.5', '[fd00::5]']);
    for (const bad of ['monitor.example:8090', '*.example.com', 'http://monitor.example'])
      expect(() => loadConfig({ MONITOR_ALLOWED_HOSTS: bad })).toThrow(
        `MONITOR_ALLOWED_HOSTS (got "${bad}"): must be host names or IP addresses separated by commas, without ports or wildcards`,
      );
  });

  it.each([
    ['?password=', 'mysql://admin@db/x?password=hunter2', 'mysql://admin@db/x?password=***'],
    ['a raw @ in the password', 'mysql://admin:hun@ter2@db/x', 'mysql://admin:***@db/x'],
    ['a raw / in the password', 'mysql://admin:hun/ter2@db/x', 'mysql://admin:***@db/x'],
    ['a percent-encoded password', 'mysql://admin:hun%40ter%2F2@db/x', 'mysql://admin:***@db/x'],
  ])('never repeats a password given with %s, in the whole message', (_case, url, shown) => {
    expect(() => loadConfig({ WAREHOUSE_URL: url })).toThrow(
      `invalid configuration:\n  - WAREHOUSE_URL (got "${shown}"): must be a URL starting with pglite:// or postgres:// or postgresql:// or redshift://`,
    );
  });

  it('lists every missing required variable and every bad one together when settings are required', () => {
    try {
      loadConfig({ LAKE_URL: 'ftp://x' }, { required: ['LAKE_URL', 'WAREHOUSE_URL', 'SECRETS_URL'] });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'WAREHOUSE_URL: required here (no embedded default when ECOMM_REQUIRE_SETTINGS is on)',
        'SECRETS_URL: required here (no embedded default when ECOMM_REQUIRE_SETTINGS is on)',
        'LAKE_URL (got "ftp://x"): must be a URL starting with file:// or s3:// or az://',
      ]);
    }
  });

  it("reads the shutdown grace and the services' ports and address, each a clear error when bad", () => {
    expect(loadConfig({})).toMatchObject({
      ECOMM_SHUTDOWN_GRACE_SECONDS: 25,
      ECOMM_HEALTH_PORT: 8080,
      MONITOR_PORT: 8090,
      MONITOR_HOST: '127.0.0.1',
    });
    expect(
      loadConfig({
        ECOMM_SHUTDOWN_GRACE_SECONDS: '2.5',
        ECOMM_HEALTH_PORT: '9000',
        MONITOR_PORT: '0',
        MONITOR_HOST: '0.0.0.0',
      }),
    ).toMatchObject({
      ECOMM_SHUTDOWN_GRACE_SECONDS: 2.5,
      ECOMM_HEALTH_PORT: 9000,
      MONITOR_PORT: 0,
      MONITOR_HOST: '0.0.0.0',
    });
    try {
      loadConfig({ ECOMM_SHUTDOWN_GRACE_SECONDS: 'soon', ECOMM_HEALTH_PORT: '80800', MONITOR_PORT: 'http' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/^ECOMM_SHUTDOWN_GRACE_SECONDS \(got "soon"\): /);
      expect(problems[1]).toMatch(/^ECOMM_HEALTH_PORT \(got "80800"\): .*65535/);
      expect(problems[2]).toMatch(/^MONITOR_PORT \(got "http"\): /);
    }
    expect(() => loadConfig({ ECOMM_SHUTDOWN_GRACE_SECONDS: '-1' })).toThrow(/ECOMM_SHUTDOWN_GRACE_SECONDS/);
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ LAKE_URL: '  ' }).LAKE_URL).toBe(EMBEDDED_DEFAULTS.LAKE_URL);
  });

  it("reads the contracts' time window, naming a bad day or an unknown field", () => {
    const config = loadConfig({
      CONTRACT_EARLIEST_DATE: '2010-01-01',
      CONTRACT_FIELD_WINDOWS: '{"orders.ordered_at": {"maxFutureSeconds": 0}}',
    });
    const options = contractCheckOptions(config, new Date('2026-11-03T00:00:00Z'));
    expect(options.window).toEqual({ earliest: new Date('2010-01-01T00:00:00Z'), maxFutureSeconds: 86_400 });
    expect(options.fieldWindows).toEqual({ 'orders.ordered_at': { maxFutureSeconds: 0 } });
    expect(() => loadConfig({ CONTRACT_EARLIEST_DATE: '2026-02-30' })).toThrow(
      /CONTRACT_EARLIEST_DATE \(got "2026-02-30"\): must be a real calendar day/,
    );
    expect(() => loadConfig({ CONTRACT_FIELD_WINDOWS: '{"orders.status": {}}' })).toThrow(
      /CONTRACT_FIELD_WINDOWS.*not a timestamp or date column/,
    );
    expect(() => loadConfig({ CONTRACT_FIELD_WINDOWS: 'soon' })).toThrow(
      /CONTRACT_FIELD_WINDOWS.*must be JSON/,
    );
    expect(() => loadConfig({ CONTRACT_MAX_FUTURE_SECONDS: '-1' })).toThrow(/CONTRACT_MAX_FUTURE_SECONDS/);
  });

  it('reads the run lease settings, and the execution id from Azure when RUN_EXECUTION_ID is unset', () => {
    expect(loadConfig({})).toMatchObject({ RUN_LEASE_SECONDS: 300, RUN_LOCK_WAIT_SECONDS: 0 });
    expect(loadConfig({}).RUN_EXECUTION_ID).toBeUndefined();
    expect(loadConfig({ CONTAINER_APP_JOB_EXECUTION_NAME: 'ecomm-run-28x1' }).RUN_EXECUTION_ID).toBe(
      'ecomm-run-28x1',
    );
    expect(
      loadConfig({ RUN_EXECUTION_ID: 'sched-1', CONTAINER_APP_JOB_EXECUTION_NAME: 'other' }).RUN_EXECUTION_ID,
    ).toBe('sched-1');
    expect(() => loadConfig({ RUN_LEASE_SECONDS: '1' })).toThrow(/RUN_LEASE_SECONDS \(got "1"\)/);
    expect(() => loadConfig({ RUN_LOCK_WAIT_SECONDS: 'soon' })).toThrow(
      /RUN_LOCK_WAIT_SECONDS \(got "soon"\)/,
    );
    expect(() => loadConfig({ RUN_EXECUTION_ID: 'a b' })).toThrow(
      /RUN_EXECUTION_ID \(got "a b"\): may hold only/,
    );
  });

  it('names a bad lookback or delete guard with its range', () => {
    expect(loadConfig({})).toMatchObject({ EXTRACT_LOOKBACK_SECONDS: 900, RECONCILE_MAX_DELETE_PERCENT: 20 });
    expect(() => loadConfig({ EXTRACT_LOOKBACK_SECONDS: '-1' })).toThrow(
      /EXTRACT_LOOKBACK_SECONDS \(got "-1"\)/,
    );
    expect(() => loadConfig({ EXTRACT_LOOKBACK_SECONDS: 'an hour' })).toThrow(/EXTRACT_LOOKBACK_SECONDS/);
    expect(() => loadConfig({ RECONCILE_MAX_DELETE_PERCENT: '101' })).toThrow(
      /RECONCILE_MAX_DELETE_PERCENT \(got "101"\)/,
    );
  });
});
