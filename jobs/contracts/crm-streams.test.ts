import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { configuredSources } from '../extract/sources.ts';
import { CRM_STREAMS } from './crm-streams.ts';
import { contractFor, DATA_CONTRACTS } from './data-contracts.ts';

const now = new Date('2026-10-01T12:00:00Z');
const KEY = 'crm-test-key';

describe('CRM stream contracts', () => {
  it('has one csv contract per CRM stream, keyed by its primary key, with a type for every column', () => {
    for (const stream of CRM_STREAMS) {
      const contract = contractFor(stream.name);
      expect(contract.format).toBe('csv');
      expect(contract.table).toBe(stream.name);
      expect(contract.keyColumns).toEqual(stream.primaryKey);
      expect(contract.columns).toEqual(stream.columns.map((column) => column.name));
      expect(contract.columns).toContain(stream.cursor);
      for (const spec of contract.specs) expect(spec.type, `${stream.name}.${spec.name}`).toBeDefined();
    }
  });

  it('passes a contact as the HubSpot connector writes it (ISO timestamps, ids beyond 32 bits)', () => {
    const verdict = contractFor('crm_contacts').check(
      {
        id: '90071992547',
        email: ' Jane.Doe@Example.com ',
        lifecyclestage: 'marketingqualifiedlead',
        createdate: '2026-09-01T10:00:00.000Z',
        hs_lastmodifieddate: '2026-09-30T08:15:42.123Z',
      },
      { now },
    );
    expect(verdict.reasons).toEqual([]);
  });

  it('hashes a contact email exactly as a customer email, so the two link in gold; the clear email is PII', () => {
    const contacts = contractFor('crm_contacts');
    const customers = contractFor('customers');
    expect(contacts.piiColumns).toEqual(['email']);
    expect(contacts.derivedColumns).toEqual(['email_hash', 'email_masked']);
    const contactHash = contacts.derive(
      contacts.columns.map((column) => (column === 'email' ? ' Jane.Doe@Example.com ' : '1')),
      KEY,
    )[0];
    const customerValues = customers.columns.map((column) =>
      column === 'email' ? 'jane.doe@example.com' : column === 'customer_id' ? '1' : null,
    );
    const customerHash = customers.derive(customerValues, KEY)[
      customers.derivedColumns.indexOf('email_hash')
    ];
    expect(contactHash).toMatch(/^[0-9a-f]{64}$/);
    expect(contactHash).toBe(customerHash);
    expect(() => contacts.derive(['1', 'a@b.co', null, null, null], undefined)).toThrow(/PII_HASH_KEY/);
  });

  it('takes a contact without email or stage (it links to no customer), refuses a bad id or timestamp', () => {
    const contacts = contractFor('crm_contacts');
    const base = {
      id: '101',
      createdate: '2026-09-01T10:00:00Z',
      hs_lastmodifieddate: '2026-09-02T10:00:00Z',
    };
    expect(contacts.check(base, { now }).reasons).toEqual([]);
    expect(contacts.check({ ...base, id: 'abc' }, { now }).reasons).toEqual(['id: expected an integer']);
    expect(contacts.check({ ...base, hs_lastmodifieddate: undefined }, { now }).reasons).toEqual([
      'hs_lastmodifieddate: required value is missing',
    ]);
    expect(contacts.check({ ...base, createdate: '2026-02-30T00:00:00Z' }, { now }).reasons).toHaveLength(1);
  });

  it('passes an association row, the label optional', () => {
    const verdict = contractFor('crm_contact_companies').check(
      {
        contact_id: '100001',
        company_id: '100002',
        association_type_id: '1',
        association_category: 'HUBSPOT_DEFINED',
        association_label: '',
        hs_lastmodifieddate: '2026-09-30T08:15:42.123Z',
      },
      { now },
    );
    expect(verdict.reasons).toEqual([]);
    expect(
      contractFor('crm_contact_companies').check({ contact_id: '1', company_id: '2' }, { now }).reasons,
    ).toContain('association_type_id: required value is missing');
  });

  it('names every CRM bronze table once among all contracts', () => {
    const tables = DATA_CONTRACTS.map((contract) => contract.table);
    expect(new Set(tables).size).toBe(tables.length);
    for (const stream of CRM_STREAMS) expect(tables).toContain(stream.name);
  });
});

describe('configured sources', () => {
  const base = { SOURCE_URL: 'pglite://memory' };

  it('extracts the CRM streams only when CRM_SOURCE_URL is set', () => {
    expect(configuredSources(loadConfig(base)).map((source) => source.setting)).toEqual(['SOURCE_URL']);
    const url = 'hubspot://127.0.0.1:1234?tokenSecret=HUBSPOT_TOKEN&tls=false';
    const sources = configuredSources(loadConfig({ ...base, CRM_SOURCE_URL: url }));
    expect(sources.map((source) => source.setting)).toEqual(['SOURCE_URL', 'CRM_SOURCE_URL']);
    const crm = sources[1];
    expect(crm?.url).toBe(url);
    expect(crm?.streams.map((stream) => [stream.name, stream.remoteName, stream.cursor])).toEqual([
      ['crm_contacts', 'contacts', 'hs_lastmodifieddate'],
      ['crm_companies', 'companies', 'hs_lastmodifieddate'],
      ['crm_contact_companies', 'associations/contacts/companies', 'hs_lastmodifieddate'],
    ]);
    expect(crm?.streams[0]?.schema).toContainEqual({ name: 'id', type: 'bigint' });
  });

  it('refuses a CRM_SOURCE_URL no source connector serves', () => {
    expect(() => loadConfig({ ...base, CRM_SOURCE_URL: 'ftp://crm' })).toThrow(/CRM_SOURCE_URL/);
  });
});
