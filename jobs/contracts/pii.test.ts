import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { csvLine } from '../../adapters/csv.ts';
import { openObjectStore } from '../../adapters/storage/index.ts';
import { readCsvRecords, validateRecords } from '../validate/index.ts';
import { contractFor } from './data-contracts.ts';
import { maskPiiInText, maskRescued } from './pii.ts';
import { SOURCE_TABLES } from './source-tables.ts';

const KEY = 'unit-test-pii-key';
const hmac = (text: string) => createHmac('sha256', KEY).update(text, 'utf8').digest('hex');

const customer = {
  customer_id: '042',
  email: ' Jane.Doe@Example.com ',
  phone: ' +33 6 12 34 56 78 ',
  first_name: 'Jane',
  last_name: 'Doe',
  street_address: '  ',
  city: 'Paris',
  country_code: 'FR',
  loyalty_tier: 'gold',
  signed_up_at: '2026-10-01T09:00:00Z',
  created_at: '2026-10-01T09:00:00Z',
  updated_at: '2026-10-01T09:00:00Z',
};

describe('PII classification in the contracts', () => {
  it('tags every customer column holding personal data with its class', () => {
    const customers = SOURCE_TABLES.find((table) => table.name === 'customers');
    const classes = Object.fromEntries(
      (customers?.columns ?? []).filter((column) => column.pii).map((column) => [column.name, column.pii]),
    );
    expect(classes).toEqual({
      email: 'email',
      phone: 'phone',
      first_name: 'name',
      last_name: 'name',
      street_address: 'address',
    });
    expect(contractFor('customers').piiColumns).toEqual(Object.keys(classes));
    expect(contractFor('orders').piiColumns).toEqual([]);
  });

  it('derives HMAC-SHA256 hashes of the normalised values, and the masks gold shows', () => {
    const contract = contractFor('customers');
    const verdict = contract.check(customer, { now: new Date('2026-11-01T00:00:00Z') });
    expect(verdict.reasons).toEqual([]);
    const derived = Object.fromEntries(
      contract.derivedColumns.map((name, index) => [name, contract.derive(verdict.values, KEY)[index]]),
    );
    expect(derived).toEqual({
      customer_key: hmac('42'), // the integer's decimal text, whatever its spelling
      email_hash: hmac('jane.doe@example.com'), // trimmed and lower-cased first
      email_masked: 'j***@example.com',
      phone_masked: '***78',
      street_address_hash: null, // blank is no address
    });
  });

  it('hashes customer_id to the same customer_key in every source that names a customer', () => {
    const order = contractFor('orders');
    const values = order.columns.map((column) => (column === 'customer_id' ? '42' : 'x'));
    expect(order.derivedColumns).toEqual(['customer_key']);
    expect(order.derive(values, KEY)).toEqual([hmac('42')]);
    const clicks = contractFor('clickstream');
    const click = clicks.columns.map((column) => (column === 'customer_id' ? '42' : null));
    expect(clicks.derive(click, KEY)).toEqual([hmac('42')]);
    expect(
      clicks.derive(
        clicks.columns.map(() => null),
        KEY,
      ),
    ).toEqual([null]); // anonymous: no key
  });

  it('hashes a value again under a new key (recent hashes are kept per key), and stays right past the cache bound', () => {
    const order = contractFor('orders');
    const valuesFor = (id: string) => order.columns.map((column) => (column === 'customer_id' ? id : 'x'));
    expect(order.derive(valuesFor('7'), KEY)).toEqual([hmac('7')]);
    const rotated = 'another-key';
    expect(order.derive(valuesFor('7'), rotated)).toEqual([
      createHmac('sha256', rotated).update('7').digest('hex'),
    ]);
    expect(order.derive(valuesFor('7'), KEY)).toEqual([hmac('7')]);
    for (let id = 0; id < 100_100; id += 1) order.derive(valuesFor(String(id)), KEY);
    expect(order.derive(valuesFor('5'), KEY)).toEqual([hmac('5')]);
    expect(order.derive(valuesFor('100099'), KEY)).toEqual([hmac('100099')]);
  });

  it('refuses to derive a keyed hash without the key, naming the setting', () => {
    expect(() => contractFor('orders').derive([], undefined)).toThrow(
      'the orders contract hashes personal data: the PII hash key (PII_HASH_KEY) is needed',
    );
    expect(contractFor('products').derive([], undefined)).toEqual([]);
  });
});

describe('masking undeclared fields (_rescued_data)', () => {
  it('masks emails, phone numbers, card numbers and SSNs at any depth, and keeps the rest', () => {
    expect(
      maskRescued({
        contact: { email: 'jane.doe@example.com', phone: '+44 20 7946 0958' },
        notes: ['card 4111 1111 1111 1111 on file', 'ssn 123-45-6789'],
        coupon: 'XMAS-2026',
        count: 3,
        ordered: '2026-11-01',
      }),
    ).toEqual({
      contact: { email: 'j***@example.com', phone: '***58' },
      notes: ['card ****1111 on file', 'ssn ***-**-****'],
      coupon: 'XMAS-2026',
      count: 3,
      ordered: '2026-11-01',
    });
  });

  it('leaves digit runs that fail the card check alone (order numbers, amounts)', () => {
    expect(maskPiiInText('order 1234567890123')).toBe('order 1234567890123');
    expect(maskPiiInText('total 1234.56')).toBe('total 1234.56');
  });
});

describe('validateRecords stages the derived columns and masked rescued data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pii-validate-'));
  const lake = openObjectStore(`file://${dir}`);
  afterAll(async () => {
    await lake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function* records() {
    const header = [...Object.keys(customer), 'contact'];
    const row = [...Object.values(customer), '{"email":"jane@else.org"}'];
    const csv = `${csvLine(header)}${csvLine(row)}`;
    yield* readCsvRecords(Readable.from([csv]));
  }

  const target = {
    batchId: 'b1',
    source: 'customers',
    ingestionDate: '2026-11-01',
    rawKey: 'raw/source=customers/ingestion_date=2026-11-01/b1.csv',
  };

  it('writes the hashes and masks after the declared columns, and no clear value in _rescued_data', async () => {
    const outcome = await validateRecords(lake, contractFor('customers'), target, records(), {
      check: { now: new Date('2026-11-01T00:00:00Z') },
      piiHashKey: KEY,
    });
    expect(outcome.staged).toBe(1);
    let staged = '';
    for await (const chunk of await lake.get(outcome.stagedKey)) staged += String(chunk);
    const [header, line] = staged.trim().split('\n');
    expect(header).toContain(
      'updated_at,customer_key,email_hash,email_masked,phone_masked,street_address_hash,',
    );
    expect(line).toContain(hmac('42'));
    expect(line).toContain(hmac('jane.doe@example.com'));
    expect(line).toContain('j***@else.org');
    expect(line).not.toContain('jane@else.org');
  });

  it('fails the batch, naming the key, when the contract hashes and no key was given', async () => {
    await expect(
      validateRecords(lake, contractFor('customers'), target, records(), {
        check: { now: new Date('2026-11-01T00:00:00Z') },
      }),
    ).rejects.toThrow(/PII hash key \(PII_HASH_KEY\) is needed/);
  });
});
