import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../test/harness.ts';
import { writeSourceCsv } from './index.ts';

let platform: EmbeddedPlatform;
beforeAll(async () => {
  platform = await openEmbeddedPlatform();
  await platform.source.exec(
    "create table probe (id integer, note text); insert into probe values (1, 'a'), (2, 'line\nbreak')",
  );
});
afterAll(async () => {
  await platform.close();
});

describe('writeSourceCsv', () => {
  it('writes no object for an empty repair or backfill (nothing to delete after), and the whole CSV otherwise', async () => {
    const context = platform.context();
    const empty = 'raw/source=probe/ingestion_date=2026-10-01/empty.csv';
    const rows = await writeSourceCsv(context, platform.source, empty, ['select * from probe where id > 9'], {
      emptyWritesNothing: true,
    });
    expect(rows).toBe(0);
    expect(await platform.lake.head(empty)).toBeUndefined();

    const full = 'raw/source=probe/ingestion_date=2026-10-01/full.csv';
    const written = await writeSourceCsv(
      context,
      platform.source,
      full,
      ['select * from probe where id = 1', 'select * from probe where id = 2'],
      { emptyWritesNothing: true },
    );
    expect(written).toBe(2);
    expect(await text(await platform.lake.get(full))).toBe('id,note\n1,a\n2,"line\nbreak"\n');
  });
});
