/**
 * How validate reads raw objects: CSV by position (CopyCsvReader, csv-parse from the start at anything else) and
 * stream lines straight into the contract's fields (envelope-line.ts, JSON.parse for anything else). Whichever way
 * a record is read, it is staged or quarantined exactly as when it is parsed: the same bytes, the same reasons.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { csvLine } from '../../adapters/csv.ts';
import { openLocalStore } from '../../adapters/storage/local.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { type ContractVerdict, contractFor, type DataContract } from '../contracts/data-contracts.ts';
import { maskRescued } from '../contracts/pii.ts';
import { envelopeOf, openRawObject } from '../lake/raw-batch.ts';
import {
  judge,
  openRawRecords,
  parseEvent,
  type RawRecord,
  readCsvRecords,
  readEnvelopeRecords,
  stagingColumns,
  validateRecords,
} from './index.ts';

const folder = mkdtempSync(join(tmpdir(), 'ecomm-reading-'));
const lake = openLocalStore(`file://${folder}/lake`);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const check = { now: new Date('2026-10-02T00:00:00Z') };
const options = { piiHashKey: 'reading-key', check };

async function text(key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await lake.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Validates a raw object read as validate reads it (`fast`) or parsed only (`parsed`: csv-parse, JSON.parse); its
 * staged and quarantined bytes, every record's reasons by row, and the outcome's counts.
 */
async function validated(source: string, body: string | Buffer, reading: 'fast' | 'parsed') {
  const contract = contractFor(source);
  const rawKey = `raw/source=${source}/ingestion_date=2026-10-01/b1.${contract.format === 'csv' ? 'csv' : 'ndjson'}`;
  await lake.put(rawKey, body);
  const target = { batchId: 'b1', source, ingestionDate: '2026-10-01', rawKey };
  const records =
    reading === 'fast'
      ? await openRawRecords(lake, rawKey, contract)
      : contract.format === 'csv'
        ? readCsvRecords(await lake.get(rawKey))
        : readEnvelopeRecords(await openRawObject(lake, rawKey));
  const outcome = await validateRecords(lake, contract, target, records, options);
  const quarantine = outcome.quarantineKey ? await text(outcome.quarantineKey) : '';
  const reasons = Object.fromEntries(
    quarantine
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { row_number: number; reasons: string[] })
      .map((row) => [row.row_number, row.reasons]),
  );
  const { rowsIn, staged, quarantined, rescued } = outcome;
  return {
    staged: await text(outcome.stagedKey),
    quarantine,
    reasons,
    counts: { rowsIn, staged, quarantined, rescued },
  };
}

/**
 * A passing record's staged cells as the staging table declares them (stagingColumns): its values, their derived
 * columns, its stream position, its undeclared fields with personal data masked, the batch id and source file. The
 * writer validate uses (StagedCsvWriter) is held to csvLine of these.
 */
function stagedCells(
  contract: DataContract,
  verdict: ContractVerdict,
  record: RawRecord,
  meta: { batchId: string; sourceFile: string; piiHashKey: string | undefined },
): (string | null)[] {
  const rescued = verdict.rescued ? JSON.stringify(maskRescued(verdict.rescued)) : null;
  return [
    ...verdict.values,
    ...contract.derive(verdict.values, meta.piiHashKey),
    ...record.stream,
    rescued,
    meta.batchId,
    meta.sourceFile,
  ];
}

/** The staged file as csvLine(stagedCells(…)) writes it for the passing records, parsed. */
async function stagedByCells(
  source: string,
  records: AsyncIterable<RawRecord>,
  rawKey: string,
): Promise<string> {
  const contract = contractFor(source);
  let staged = csvLine(stagingColumns(contract));
  for await (const record of records) {
    const verdict = judge(contract, record, check);
    if (verdict.reasons.length === 0)
      staged += csvLine(
        stagedCells(contract, verdict, record, {
          batchId: 'b1',
          sourceFile: rawKey,
          piiHashKey: options.piiHashKey,
        }),
      );
  }
  return staged;
}

const ORDER_HEADER =
  'order_id,customer_id,ordered_at,status,channel,currency,shipping_amount,created_at,updated_at,coupon_code';
const at = '2026-09-01 10:00:00+00';
/** Orders, one row per kind of bad value, with the reasons each must be quarantined with (by row number). */
const orderRows: [string, string[]][] = [
  [`1,3,${at},shipped,web,EUR,4.99,${at},${at},`, []],
  [`2,3,${at},pending,"mobile","USD",0.00,${at},${at},"jo@example.com, ""XMAS"""`, []],
  [`3,,${at},shipped,web,EUR,4.99,${at},${at},`, ['customer_id: required value is missing']],
  [`x,3,${at},shipped,web,EUR,4.99,${at},${at},`, ['order_id: expected an integer']],
  [
    `2147483648,3,${at},shipped,web,EUR,4.99,${at},${at},`,
    ['order_id: out of range for a 32-bit integer (-2147483648 to 2147483647)'],
  ],
  [
    `6,3,2025-02-29 10:00:00+00,shipped,web,EUR,4.99,${at},${at},`,
    ['ordered_at: expected a timestamp: no such calendar day'],
  ],
  [
    `7,3,2026-09-01 24:00:00+00,shipped,web,EUR,4.99,${at},${at},`,
    ['ordered_at: expected a timestamp: no such time of day'],
  ],
  [`8,3,yesterday,shipped,web,EUR,4.99,${at},${at},`, ['ordered_at: expected a timestamp: not ISO-8601']],
  [
    `9,3,1999-12-31 23:59:59+00,shipped,web,EUR,4.99,${at},${at},`,
    ['ordered_at: before 2000-01-01, the earliest plausible time'],
  ],
  [
    `10,3,2026-10-03 00:00:01+00,shipped,web,EUR,4.99,${at},${at},`,
    ['ordered_at: more than 86400 seconds in the future'],
  ],
  [
    `11,3,${at},returned,"",EUR,-1,${at},${at},`,
    [
      'status: must be one of pending, shipped, delivered, cancelled',
      'channel: must be one of web, mobile, store, marketplace',
      'shipping_amount: must be >= 0',
    ],
  ],
  [
    `12,3,${at},shipped,web,EUR,4.999,${at},${at},`,
    ['shipping_amount: more than 2 decimal places (numeric(12, 2))'],
  ],
  [
    `13,3,${at},shipped,web,EUR,12345678901.00,${at},${at},`,
    ['shipping_amount: more than 10 digits before the decimal point (numeric(12, 2))'],
  ],
  [`14,3,${at},shipped,web,EUR,ten,${at},${at},`, ['shipping_amount: expected a decimal number']],
  [`15,3,${at},shipped,we\u0000b,EUR,4.99,${at},${at},`, ['channel: text must not contain NUL characters']],
  [`16,3,${at},shipped,web,EUR,4.99,${at},${at}`, ['row has 9 cells, header has 10']],
  [
    `17,3,${at},shipped,"web,""store""",EUR,4.99,${at},${at},`,
    ['channel: must be one of web, mobile, store, marketplace'],
  ],
  [`018,3,2026-09-01T10:00:00.123456-02:30,delivered,store,GBP,10,${at},${at},`, []],
];
const ordersCsv = (lineEnd: string) =>
  `${[ORDER_HEADER, ...orderRows.map(([row]) => row)].join(lineEnd)}${lineEnd}`;
const expectedOrderReasons = Object.fromEntries(
  orderRows.flatMap(([, reasons], index) => (reasons.length > 0 ? [[index + 1, reasons]] : [])),
);

describe('validate reads CSV by position', () => {
  it('quarantines every kind of bad row with its reasons, and stages the rest byte for byte as csv-parse reads them', async () => {
    const fast = await validated('orders', ordersCsv('\n'), 'fast');
    expect(fast.reasons).toEqual(expectedOrderReasons);
    expect(fast.counts).toEqual({
      rowsIn: orderRows.length,
      staged: 3,
      quarantined: orderRows.length - 3,
      rescued: 3,
    });
    expect(fast).toEqual(await validated('orders', ordersCsv('\n'), 'parsed'));
    const rawKey = 'raw/source=orders/ingestion_date=2026-10-01/b1.csv';
    expect(fast.staged).toBe(await stagedByCells('orders', readCsvRecords(await lake.get(rawKey)), rawKey));
    // The undeclared column is rescued with its personal data masked; the hash of customer 3 is staged.
    expect(fast.staged).toContain('"{""coupon_code"":""j***@example.com, \\""XMAS\\""""}"');
  });

  it('reads what is not plain COPY output with csv-parse from the start, past the rows already read', async () => {
    // CRLF from the start: csv-parse takes \r\n as the line end, so the rows are the same as with \n.
    const crlf = await validated('orders', ordersCsv('\r\n'), 'fast');
    expect(crlf.reasons).toEqual(expectedOrderReasons);
    expect(crlf).toEqual(await validated('orders', ordersCsv('\r\n'), 'parsed'));
    // A \r after five rows: read by position up to there, then csv-parse (for which it is part of a cell).
    const lines = ordersCsv('\n').split('\n');
    lines[6] = `${lines[6]}\r`;
    const late = await validated('orders', lines.join('\n'), 'fast');
    expect(late.counts.rowsIn).toBe(orderRows.length);
    expect(late).toEqual(await validated('orders', lines.join('\n'), 'parsed'));
    // A quote where COPY never writes one: csv-parse fails the batch, as it did.
    await expect(validated('orders', `${ORDER_HEADER}\n1,3,a"b\n`, 'fast')).rejects.toThrow(
      /Invalid Opening Quote/,
    );
  });
});

/** A stream line as stream-ingest writes it. */
const line = (
  value: string | Buffer,
  change: { timestamp?: number; partition?: number; offset?: number } = {},
) =>
  JSON.stringify(
    envelopeOf({
      topic: 'clickstream',
      partition: change.partition ?? 1,
      offset: change.offset ?? 17,
      key: 's-1',
      value: typeof value === 'string' ? Buffer.from(value) : value,
      timestamp: change.timestamp ?? Date.parse('2026-10-01T10:00:05.250Z'),
    }),
  );
const click = (change: Record<string, unknown> = {}, drop: string[] = []) => {
  const event: Record<string, unknown> = {
    event_id: 'e-1',
    event_type: 'add_to_cart',
    occurred_at: '2026-09-24T23:16:13Z',
    session_id: 's-1',
    customer_id: 863,
    device: 'web',
    page_url: '/products/226',
    product_id: 226,
    quantity: 2,
    order_id: null,
    ...change,
  };
  for (const name of drop) delete event[name];
  return JSON.stringify(event);
};
/** Events, one per kind of bad value or message, with the reasons each must be quarantined with. */
const clickLines: [string, string[]][] = [
  [line(click()), []],
  [line(click({ page_url: '/search?q="mug"' })), []], // an escape: parsed
  [line(click({ email: 'jo@example.com', note: { phone: '+1 201-555-0100' } })), []], // rescued: parsed
  [line(`\ufeff${click()}`), []], // a byte-order mark: parsed
  [line(click({ customer_id: '863' })), ['customer_id: expected an integer']],
  [line(click({ quantity: 0 })), ['quantity: must be >= 1']],
  [
    line(click({ event_type: 'teleport' })),
    [
      'event_type: must be one of page_view, product_view, add_to_cart, remove_from_cart, checkout_started, purchase',
    ],
  ],
  [
    line(click({ occurred_at: '2026-02-30T10:00:00Z' })),
    ['occurred_at: expected an ISO-8601 timestamp: no such calendar day'],
  ],
  [
    line(click({ occurred_at: '2026-10-09T00:00:00Z' })),
    ['occurred_at: more than 86400 seconds in the future'],
  ],
  [line(click({ occurred_at: 1_790_291_773 })), ['occurred_at: expected an ISO-8601 timestamp']],
  [
    line(click({ product_id: 2_147_483_648, order_id: 1.5 })),
    [
      'product_id: out of range for a 32-bit integer (-2147483648 to 2147483647)',
      'order_id: expected an integer',
    ],
  ],
  [line(click({ quantity: 2 ** 53 })), ['quantity: integer beyond ±2^53 cannot be read exactly from JSON']],
  [line(click({}, ['session_id'])), ['session_id: required value is missing']],
  [line(click({ session_id: '  ' })), ['session_id: must not be blank']],
  [line(click({ device: 'we\u0000b' })), ['device: text must not contain NUL characters']],
  [line(click({ device: 'web\ud800' })), ['device: text is not valid Unicode (lone surrogate)']],
  [line('not json'), ['malformed JSON: Unexpected token \'o\', "not json" is not valid JSON']],
  [line('[1,2]'), ['event must be a JSON object']],
  [line(Buffer.from([0x7b, 0xff, 0x7d])), ['event is not valid UTF-8']],
  [line(click(), { timestamp: Number.NaN }), ['_published_at: expected a timestamp: not ISO-8601']],
  [
    line(click(), { timestamp: Date.parse('1999-12-31T00:00:00Z') }),
    ['_published_at: before 2000-01-01, the earliest plausible time'],
  ],
  [
    line(click({ quantity: 0 }), { partition: 2_147_483_648 }),
    [
      'quantity: must be >= 1',
      '_stream_partition: out of range for a 32-bit integer (-2147483648 to 2147483647)',
    ],
  ],
  [line(click({ customer_id: null, page_url: null, product_id: null, quantity: null })), []],
  // Undeclared plain fields: read straight, rescued with their personal data masked, as when parsed.
  [line(click({ coupon_code: 'XMAS', contact: 'jo@example.com' })), []],
  [line(click({ coupon_code: 'XMAS', '2': 1 })), []], // an all-digit name, ordered first: parsed
  // Beyond ASCII: the chunk's values are decoded one by one, not cut from its text.
  [line(click({ page_url: '/produits/café-😀', utm_campaign: 'été,"soldes"' })), []],
];

describe('validate reads stream lines straight into the contract', () => {
  it('quarantines every kind of bad event with its reasons, and stages the rest byte for byte as parsing them does', async () => {
    const body = `${clickLines.map(([text]) => text).join('\n')}\n`;
    const fast = await validated('clickstream', body, 'fast');
    expect(fast.reasons).toEqual(
      Object.fromEntries(
        clickLines.flatMap(([, reasons], index) => (reasons.length > 0 ? [[index + 1, reasons]] : [])),
      ),
    );
    expect(fast.counts).toMatchObject({ rowsIn: clickLines.length, staged: 8, rescued: 3 });
    expect(fast.staged).toContain('"{""coupon_code"":""XMAS"",""contact"":""j***@example.com""}"');
    expect(fast.staged).toContain('"{""2"":1,""coupon_code"":""XMAS""}"');
    expect(fast.staged).toContain(',/produits/café-😀,');
    expect(fast.staged).toContain(',"été,""soldes""",');
    expect(fast).toEqual(await validated('clickstream', body, 'parsed'));
    const rawKey = 'raw/source=clickstream/ingestion_date=2026-10-01/b1.ndjson';
    const parsed = readEnvelopeRecords(await openRawObject(lake, rawKey));
    expect(fast.staged).toBe(await stagedByCells('clickstream', parsed, rawKey));
    // The stream position and the record time (ISO-8601, milliseconds) are staged after the keyed hash.
    expect(fast.staged.split('\n')[1]).toMatch(/,[0-9a-f]{64},1,17,2026-10-01T10:00:05\.250Z,,b1,/);
    // Quarantine keeps the message as consumed, for a line read straight into the contract as for a parsed one.
    const quarantined = JSON.parse(fast.quarantine.split('\n')[0] as string);
    expect(quarantined).toMatchObject({
      row_number: 5,
      record: { customer_id: '863' },
      message: { offset: 17 },
    });
  });

  it('checks the versioned order events the same way', async () => {
    const order = (change: Record<string, unknown>) =>
      line(
        JSON.stringify({
          event_id: 'o-1',
          event_type: 'order_created',
          occurred_at: '2026-09-24T23:16:13Z',
          order_id: 5,
          status: 'pending',
          ...change,
        }),
      );
    const body = [
      order({}),
      order({ schema_version: 2, order_total: 12.5, currency: 'EUR' }),
      order({ schema_version: 2 }),
      order({ schema_version: 3 }),
      order({ schema_version: 2, order_total: 1e-7, currency: 'EUR' }),
    ].join('\n');
    const fast = await validated('order-events', body, 'fast');
    expect(fast.reasons).toEqual({
      3: ['schema_version 2 requires order_total, currency'],
      4: ['schema_version: must be one of 1, 2'],
      5: ['order_total: more than 2 decimal places (numeric(12, 2))'],
    });
    expect(fast).toEqual(await validated('order-events', body, 'parsed'));
  });
});

describe('stream lines across chunks', () => {
  it('reads the lines readline reads, however the object is cut into chunks and whatever ends its lines', async () => {
    const lineEnd = fc.constantFrom('\n', '\r\n', '\r', '\n\n', '\r\r\n');
    const lines = fc.array(
      fc.tuple(
        fc.constantFrom(...clickLines.map(([text]) => text).filter((text) => !text.includes('not json'))),
        lineEnd,
      ),
      { minLength: 1, maxLength: 12 },
    );
    const clicks = contractFor('clickstream');
    await fc.assert(
      fc.asyncProperty(
        lines,
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (chosen, ended, cuts) => {
          const text = chosen.map(([body, end], index) =>
            ended || index < chosen.length - 1 ? body + end : body,
          );
          const bytes = Buffer.from(text.join(''));
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...points].map((from, index) =>
            bytes.subarray(from, points[index] ?? bytes.length),
          );
          const expected: unknown[] = [];
          for await (const read of createInterface({ input: Readable.from([bytes]), crlfDelay: Infinity }))
            if (read !== '') expected.push(parseEvent(expected.length + 1, JSON.parse(read)).original);
          const originals = async (records: AsyncIterable<RawRecord>) => {
            const read: unknown[] = [];
            for await (const record of records) read.push([record.rowNumber, record.original]);
            return read;
          };
          const numbered = expected.map((original, index) => [index + 1, original]);
          expect(await originals(readEnvelopeRecords(Readable.from(chunks)))).toEqual(numbered);
          // Read straight into the contract: a store whose object arrives in those chunks.
          const chunked = { get: async () => Readable.from(chunks) } as unknown as ObjectStore;
          expect(await originals(await openRawRecords(chunked, 'raw/x.ndjson', clicks))).toEqual(numbered);
        },
      ),
      { numRuns: 80, seed: 20261208 },
    );
  });
});

describe('a contract whose check() a caller replaced (a quarantine replay fix)', () => {
  it('checks records read by position as objects, by that check()', async () => {
    const base = contractFor('orders');
    const status = base.columns.indexOf('status');
    // A fix that accepts a new status, and a stricter one that refuses a channel the contract accepts.
    const fixed = {
      ...base,
      check(record: Record<string, unknown>) {
        if (record.channel === 'store')
          return { values: [], reasons: ['channel: no longer sold'], rescued: null };
        if (record.status !== 'returned') return base.check(record);
        const verdict = base.check({ ...record, status: 'pending' });
        if (verdict.reasons.length === 0) verdict.values[status] = 'returned';
        return verdict;
      },
    };
    const rawKey = 'raw/source=orders/ingestion_date=2026-10-01/fixed.csv';
    await lake.put(
      rawKey,
      `${ORDER_HEADER}\n1,3,${at},returned,web,EUR,4.99,${at},${at},\n2,3,${at},shipped,store,EUR,1,${at},${at},\n`,
    );
    const verdicts: string[][] = [];
    for await (const record of await openRawRecords(lake, rawKey, fixed))
      verdicts.push(judge(fixed, record, check).reasons);
    expect(verdicts).toEqual([[], ['channel: no longer sold']]);
    const clicks = contractFor('clickstream');
    const strict = { ...clicks, check: () => ({ values: [], reasons: ['refused'], rescued: null }) };
    const eventKey = 'raw/source=clickstream/ingestion_date=2026-10-01/fixed.ndjson';
    await lake.put(eventKey, `${line(click())}\n`);
    for await (const record of await openRawRecords(lake, eventKey, strict))
      expect(judge(strict, record, check).reasons).toEqual(['refused']);
  });
});
