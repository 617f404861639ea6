// FX_SOURCE_URL end to end on the embedded platform: extract reads fx_rates from the FX vendor stand-in
// (scripts/services/fx-server.ts, `npm run services:up`) instead of SOURCE_URL's table, and validate, load and the
// silver build carry is_carried_forward through; reconcile leaves SOURCE_URL's fx_rates alone.
import { text } from 'node:stream/consumers';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../test/harness.ts';
import { createSourceSchema } from '../generate/index.ts';
import { runLoad } from '../load/index.ts';
import { runReconcile } from '../reconcile/index.ts';
import { runTransform } from '../transform/index.ts';
import { runValidate } from '../validate/index.ts';
import { runExtract } from './index.ts';
import { configuredSources } from './sources.ts';

const FX_URL = new URL(loadServiceEnv().TEST_FX_URL);
const DAY_MS = 86_400_000;
const KEY_SECRET = 'FX_SOURCE_TEST_APP_ID';
/** The vendor's clock is the real one: days relative to today, so the last five complete days are read. */
const today = Math.floor(Date.now() / DAY_MS);
const day = (back: number) => new Date((today - back) * DAY_MS).toISOString().slice(0, 10);

let platform: EmbeddedPlatform;
let settings: Record<string, string>;

async function vendor(
  method: string,
  path: string,
  appId: string,
  body?: unknown,
): Promise<{ appId: string }> {
  const response = await fetch(new URL(path, FX_URL), {
    method,
    headers: { authorization: `Token ${appId}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { appId: string };
}

beforeAll(async () => {
  platform = await openEmbeddedPlatform();
  await createSourceSchema(platform.source);
  // A row in SOURCE_URL's fx_rates that must not be read while the vendor stands in for it.
  await platform.source.exec(
    `insert into fx_rates values ('${day(2)}', 'EUR', 9.99, now() - interval '1 day', now() - interval '1 day')`,
  );
  const { appId } = await vendor('POST', '/__test/accounts', '', { base: 'EUR' });
  const rates = { USD: 1.08, GBP: 0.85, JPY: 160.5, AUD: 1.65 };
  // The day three days back is not published: carried forward from the day before.
  await vendor('POST', '/__test/rates', appId, {
    days: { [day(5)]: rates, [day(4)]: { ...rates, USD: 1.1 }, [day(2)]: rates, [day(1)]: rates },
  });
  process.env[KEY_SECRET] = appId;
  settings = {
    SECRETS_URL: 'env://',
    FX_SOURCE_URL: `fxrates://${FX_URL.host}/api?keySecret=${KEY_SECRET}&tls=false&base=EUR&start=${day(5)}`,
  };
});

afterAll(async () => {
  delete process.env[KEY_SECRET];
  await platform?.close();
});

describe('FX_SOURCE_URL', () => {
  it('makes extract read fx_rates from the vendor, not SOURCE_URL', () => {
    const context = platform.context({ settings });
    const sources = configuredSources(context.config);
    expect(
      sources.find((source) => source.setting === 'SOURCE_URL')?.streams.map((s) => s.name),
    ).not.toContain('fx_rates');
    const fx = sources.find((source) => source.setting === 'FX_SOURCE_URL');
    expect(fx?.streams.map((stream) => [stream.name, stream.remoteName])).toEqual([
      ['fx_rates', 'USD,EUR,GBP,JPY,AUD'],
    ]);
    expect(fx?.streams[0]?.columns).toContain('is_carried_forward');
    // Without the setting the OLTP table is read, without the vendor-only column.
    const plain = configuredSources(platform.context().config);
    expect(plain.map((source) => source.setting)).not.toContain('FX_SOURCE_URL');
    const oltp = plain[0]?.streams.find((stream) => stream.name === 'fx_rates');
    expect(oltp?.columns).toEqual(['rate_date', 'currency', 'rate_to_usd', 'created_at', 'updated_at']);
  });

  it('writes the vendor raw batch, and validate, load and silver carry the flag through', async () => {
    const context = platform.context({ settings });
    const extracted = await runExtract(context);
    const fx = extracted.find((table) => table.table === 'fx_rates');
    // Five complete days of five currencies; today is not read.
    expect(fx).toMatchObject({ rows: 25, reread: 0 });
    expect(fx?.window.upTo).toBe(new Date(today * DAY_MS).toISOString());
    const raw = parse(await text((await platform.lake.get(fx?.rawKey as string)) as NodeJS.ReadableStream), {
      columns: true,
    }) as Record<string, string>[];
    expect(raw.every((row) => row.rate_to_usd !== '9.99')).toBe(true);
    expect(raw.filter((row) => row.is_carried_forward === 'true').map((row) => row.rate_date)).toEqual(
      Array(5).fill(day(3)),
    );
    const [watermark] = await platform.warehouse.query<{ watermark_at: string }>(
      "select cast(watermark_at as varchar) as watermark_at from ops.watermarks where source = 'fx_rates'",
    );
    expect(Date.parse(watermark?.watermark_at.replace(' ', 'T').replace(/\+00$/, 'Z') ?? '')).toBe(
      today * DAY_MS,
    );

    const validated = await runValidate(context);
    expect(validated.find((batch) => batch.batchId === fx?.batchId)).toMatchObject({
      staged: 25,
      quarantined: 0,
    });
    await runLoad(context);
    const silver = await runTransform(context, ['silver'], {
      only: ['silver.deleted_keys', 'silver.fx_rates'],
    });
    expect(silver.blocked).toEqual([]);
    const rows = await platform.warehouse.query<{
      rate_date: string;
      currency: string;
      rate_to_usd: string;
      is_carried_forward: boolean;
    }>(
      `select cast(rate_date as varchar(10)) as rate_date, currency, cast(rate_to_usd as varchar(30)) as rate_to_usd,
         is_carried_forward
       from silver.fx_rates order by rate_date, currency`,
    );
    expect(rows).toHaveLength(25);
    const eur = rows.filter((row) => row.currency === 'EUR');
    expect(eur.map((row) => [row.rate_date, row.rate_to_usd, row.is_carried_forward])).toEqual([
      [day(5), '1.08000000', false],
      [day(4), '1.10000000', false],
      [day(3), '1.10000000', true],
      [day(2), '1.08000000', false],
      [day(1), '1.08000000', false],
    ]);
    expect(rows.find((row) => row.currency === 'GBP' && row.rate_date === day(1))?.rate_to_usd).toBe(
      (1.08 / 0.85).toFixed(8),
    );
  });

  it('has reconcile leave fx_rates alone, naming why', async () => {
    const reconciled = await runReconcile(platform.context({ settings }));
    expect(reconciled.find((table) => table.table === 'fx_rates')?.skipped).toBe(
      "read from FX_SOURCE_URL, not SOURCE_URL: not compared with SOURCE_URL's table",
    );
  });
});
