/**
 * The CRM (HubSpot) streams extract reads when CRM_SOURCE_URL is set, as one spec like SOURCE_TABLES: extract hands
 * them to the HubSpot connector (remoteName, columns, key, cursor), validate builds their data contracts from the
 * columns, bronze lands them as text and silver casts them by the same definitions (column-types.ts).
 *
 * HubSpot ids are numeric text that outgrows 32 bits on large portals: bigint. Every object carries
 * hs_lastmodifieddate (set by HubSpot on every write), the cursor of all three streams; the association stream's is
 * the contact's, so each contact version comes with the companies it was associated with when it was read.
 *
 * A contact is linked to a shop customer by email: its email_hash (the same keyed hash of the trimmed, lower-cased
 * email as customers.email_hash) equals the customer's current email_hash (sql/gold/dim_customers.sql). The CRM has
 * no shop customer id, and an email is what both systems key people by.
 */
import type { ColumnSpec } from './column-types.ts';

export interface CrmStreamSpec {
  /** The lake's `source=<name>` and the bronze table. */
  name: string;
  /** The HubSpot object type or `associations/<from>/<to>` (adapters/source/hubspot.ts). */
  remoteName: string;
  primaryKey: string[];
  cursor: string;
  columns: ColumnSpec[];
}

export const CRM_CURSOR = 'hs_lastmodifieddate';

/**
 * HubSpot's default lifecycle stages, in funnel order. A portal may define its own stages (HubSpot then writes their
 * internal ids), so the contract takes any text and silver only warns about a stage outside this list.
 */
export const CRM_LIFECYCLE_STAGES = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
] as const;

/** HubSpot's association type of a contact's primary company (HUBSPOT_DEFINED 1; an unlabeled one is 279). */
export const PRIMARY_COMPANY_ASSOCIATION_TYPE = 1;

const modified: ColumnSpec = { name: CRM_CURSOR, type: 'timestamptz' };

export const CRM_STREAMS: CrmStreamSpec[] = [
  {
    name: 'crm_contacts',
    remoteName: 'contacts',
    primaryKey: ['id'],
    cursor: CRM_CURSOR,
    columns: [
      { name: 'id', type: 'bigint' },
      {
        name: 'email',
        type: 'text',
        // A CRM contact may be known by phone or name only: such a contact links to no customer.
        nullable: true,
        pii: 'email',
        derived: [
          { name: 'email_hash', kind: 'hmac' },
          { name: 'email_masked', kind: 'mask' },
        ],
      },
      { name: 'lifecyclestage', type: 'text', nullable: true },
      { name: 'createdate', type: 'timestamptz' },
      modified,
    ],
  },
  {
    name: 'crm_companies',
    remoteName: 'companies',
    primaryKey: ['id'],
    cursor: CRM_CURSOR,
    columns: [
      { name: 'id', type: 'bigint' },
      { name: 'name', type: 'text', nullable: true },
      { name: 'domain', type: 'text', nullable: true },
      { name: 'industry', type: 'text', nullable: true },
      { name: 'createdate', type: 'timestamptz' },
      modified,
    ],
  },
  {
    name: 'crm_contact_companies',
    remoteName: 'associations/contacts/companies',
    primaryKey: ['contact_id', 'company_id', 'association_type_id', CRM_CURSOR],
    cursor: CRM_CURSOR,
    columns: [
      { name: 'contact_id', type: 'bigint' },
      { name: 'company_id', type: 'bigint' },
      { name: 'association_type_id', type: 'int' },
      { name: 'association_category', type: 'text' },
      { name: 'association_label', type: 'text', nullable: true },
      modified,
    ],
  },
];

export function crmStream(name: string): CrmStreamSpec {
  const spec = CRM_STREAMS.find((stream) => stream.name === name);
  if (!spec) throw new Error(`unknown CRM stream: ${name}`);
  return spec;
}
