import { describe, expect, it } from 'vitest';
import { maskEmail, maskPhone, maskRecord, maskText, maskValue } from './mask.ts';
import { PII_RECORD } from './test-fixtures.ts';

describe('masking quarantined records', () => {
  it('masks every PII column of a customer row and keeps the rest', () => {
    const masked = maskRecord('customers', JSON.stringify(PII_RECORD));
    expect(masked.kind).toBe('fields');
    const fields = Object.fromEntries(masked.kind === 'fields' ? masked.fields : []);
    expect(fields).toMatchObject({
      customer_id: '77',
      email: 'j***@example.com',
      phone: '***58',
      first_name: '***',
      last_name: '***',
      street_address: '***',
      city: 'London',
      loyalty_tier: 'platinum-plus',
      signed_up_at: '2026-09-01 10:00:00+00',
    });
    const text = JSON.stringify(masked);
    for (const secret of ['jane.doe77', 'Jane', 'Doe', 'Baker', '7946']) expect(text).not.toContain(secret);
  });

  it('masks personal fields an event was not supposed to carry (schema drift), by name or by shape', () => {
    const record = {
      event_id: 'e-1',
      customer_id: 5,
      email: 'x.y@shop.example',
      contact: { name: 'Bob Stone', mobile: '+1 201-555-0100' },
      note: 'call (201) 555-0199 or mail bob@example.org',
      quantity: 'two',
    };
    const masked = maskRecord('clickstream', JSON.stringify(record));
    const fields = Object.fromEntries(masked.kind === 'fields' ? masked.fields : []);
    expect(fields.email).toBe('x***@shop.example');
    expect(fields.customer_id).toBe(5);
    expect(fields.quantity).toBe('two');
    expect(fields.note).toBe('call ***99 or mail b***@example.org');
    expect(JSON.parse(String(fields.contact))).toEqual({ name: '***', mobile: '***00' });
  });

  it('masks emails and phone numbers inside unreadable text and keeps where it sat in the stream', () => {
    const masked = maskRecord(
      'clickstream',
      JSON.stringify({
        partition: 2,
        offset: 41,
        value: '{"event_id":"a","email":"ann@corp.example","tel":"+44 20 7946 0958',
      }),
    );
    expect(masked).toEqual({
      kind: 'text',
      text: '{"event_id":"a","email":"a***@corp.example","tel":"***58',
      partition: 2,
      offset: 41,
    });
    expect(maskRecord('orders', '{"order_id":"1","note":"mail me at z@z.io').kind).toBe('text');
    expect(maskRecord('orders', null)).toEqual({ kind: 'text', text: '' });
  });

  it('leaves timestamps, dates, UUIDs, amounts and ids alone', () => {
    const values = [
      '2026-09-30 23:59:05+00',
      '2026-09-16T06:19:48Z',
      '2026-09-30',
      '866ff44f-e556-4905-b26b-7c1e5799ac9a',
      '1234-5678-1234-567812345678',
      '-28.99',
      '4684',
      'HOM-000003',
    ];
    for (const value of values) expect(maskText(value), value).toBe(value);
    expect(maskValue('orders', 'ordered_at', '2026-09-30 23:59:05+00')).toBe('2026-09-30 23:59:05+00');
  });

  it('masks the same way gold does: first letter and domain of an email, last two digits of a phone', () => {
    expect(maskEmail('someone@example.com')).toBe('s***@example.com');
    expect(maskPhone('+1 201-555-0123')).toBe('***23');
    expect(maskValue('customers', 'phone', '0201 555 0123')).toBe('***23');
    expect(maskValue('customers', 'email', 'not an email')).toBe('***');
  });
});
