/**
 * Seeds a HubSpot portal (or the HubSpot-shaped test server) with the CRM side of the generated store: companies,
 * and contacts for a deterministic subset of the source's customers (the same email, so dim_customers links them),
 * each with a lifecycle stage and its company, then a second round moving some contacts one stage on, so the
 * portal holds changes over time. Only HubSpot's documented endpoints: companies found by a search on `domain` and
 * created in batches, contacts upserted in batches by `email` (`idProperty`), v4 associations created in batches.
 *
 * Deterministic per seed: who gets a contact, their company and stages are hashes of (seed, customer_id), never a
 * draw of the store's generator, so adding the CRM changes nothing else a seed makes. HubSpot stamps every write
 * with its own clock: the times are the portal's, not the store's. Memory holds one page of customers and the
 * company ids (a few per hundred customers).
 */
import { createHash } from 'node:crypto';
import { networkErrorCode, withRetry } from '../../adapters/retry.ts';
import { parseHubSpotUrl } from '../../adapters/source/hubspot.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { CRM_LIFECYCLE_STAGES, PRIMARY_COMPANY_ASSOCIATION_TYPE } from '../contracts/crm-streams.ts';

/** Share of customers who are CRM contacts (the others bought without sales or marketing knowing them). */
export const CRM_CONTACT_SHARE = 0.4;
/** Contacts per company, on average. */
const CONTACTS_PER_COMPANY = 8;
/** Share of contacts moved one stage on after they were created. */
export const CRM_PROGRESSION_SHARE = 0.3;
const PAGE = 500;
/** HubSpot's limit for batch writes. */
const BATCH = 100;

/** Initial stages and their weights: a shop's customers are mostly HubSpot customers already. */
const INITIAL_STAGES: [(typeof CRM_LIFECYCLE_STAGES)[number], number][] = [
  ['subscriber', 10],
  ['lead', 25],
  ['marketingqualifiedlead', 15],
  ['salesqualifiedlead', 10],
  ['opportunity', 10],
  ['customer', 30],
];
const FUNNEL = CRM_LIFECYCLE_STAGES.filter((stage) => stage !== 'other');
const INDUSTRIES = [
  'RETAIL',
  'COMPUTER_SOFTWARE',
  'FOOD_BEVERAGES',
  'CONSUMER_GOODS',
  'LOGISTICS_AND_SUPPLY_CHAIN',
];
const COMPANY_WORDS = [
  'Northwind',
  'Contoso',
  'Fabrikam',
  'Tailspin',
  'Wingtip',
  'Litware',
  'Adatum',
  'Proseware',
];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export interface CrmSeedOptions {
  /** A hubspot:// URL, as CRM_SOURCE_URL takes it (`tokenSecret=<name>`, `tls=false` for a loopback server). */
  url: string;
  /** The private-app token (the secret the URL names). */
  token: string;
  seed: number;
  /** The source database the customers are read from (after `generate` wrote it). */
  source: SqlDatabase;
  /** Request attempts and backoff (429 and 5xx are retried, honouring Retry-After). */
  attempts?: number;
  retryBaseMs?: number;
}

export interface CrmSeedResult {
  companies: number;
  contacts: number;
  associations: number;
  lifecycleChanges: number;
}

/** A number in [0, 1) from the seed and the parts: the same for a seed, independent of any other draw. */
export function crmDraw(seed: number, ...parts: (string | number)[]): number {
  const digest = createHash('sha256')
    .update(`${seed}:crm:${parts.join(':')}`)
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

export function companyOf(seed: number, index: number): { name: string; domain: string; industry: string } {
  const word = COMPANY_WORDS[index % COMPANY_WORDS.length] as string;
  const number = Math.floor(index / COMPANY_WORDS.length) + 1;
  return {
    name: [word, ...(number === 1 ? [] : [String(number)]), ['Ltd', 'Inc', 'GmbH', 'SAS'][index % 4]].join(
      ' ',
    ),
    domain: `${word.toLowerCase()}${number}.example.com`,
    industry: INDUSTRIES[Math.floor(crmDraw(seed, 'industry', index) * INDUSTRIES.length)] as string,
  };
}

/** What the CRM knows of a customer: nothing (no contact), or its company, first stage and later stage. */
export function contactPlan(
  seed: number,
  customerId: number,
  companyCount: number,
): { company: number; stage: string; laterStage: string | null } | null {
  if (crmDraw(seed, 'contact', customerId) >= CRM_CONTACT_SHARE) return null;
  const company = Math.floor(crmDraw(seed, 'company', customerId) * companyCount);
  const total = INITIAL_STAGES.reduce((sum, [, weight]) => sum + weight, 0);
  let pick = crmDraw(seed, 'stage', customerId) * total;
  let stage = INITIAL_STAGES[0]?.[0] as string;
  for (const [name, weight] of INITIAL_STAGES) {
    stage = name;
    pick -= weight;
    if (pick < 0) break;
  }
  const next = FUNNEL[FUNNEL.indexOf(stage as (typeof FUNNEL)[number]) + 1];
  const moves = next !== undefined && crmDraw(seed, 'progress', customerId) < CRM_PROGRESSION_SHARE;
  return { company, stage, laterStage: moves ? (next as string) : null };
}

class HubSpotWriteError extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status: number, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

export async function seedCrm(options: CrmSeedOptions): Promise<CrmSeedResult> {
  const settings = parseHubSpotUrl(options.url, '--crm-url');
  const post = async <T>(path: string, body: unknown): Promise<T> =>
    withRetry(
      async () => {
        const response = await fetch(`${settings.basePath}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
        const text = await response.text();
        if (!response.ok) {
          const retryAfter = Number(response.headers.get('retry-after'));
          throw new HubSpotWriteError(
            `HubSpot ${path} answered ${response.status}: ${text.slice(0, 300)}`,
            response.status,
            Number.isFinite(retryAfter) && response.headers.has('retry-after')
              ? retryAfter * 1000
              : undefined,
          );
        }
        return JSON.parse(text) as T;
      },
      {
        attempts: options.attempts ?? 6,
        baseDelayMs: options.retryBaseMs ?? 1000,
        maxDelayMs: 30_000,
        isRetryable: (error) =>
          error instanceof HubSpotWriteError
            ? error.status === 429 || error.status >= 500
            : networkErrorCode(error) !== undefined || (error as Error).name === 'TimeoutError',
        retryAfterMs: (error) => (error instanceof HubSpotWriteError ? error.retryAfterMs : undefined),
      },
    );

  const [count] = await options.source.query<{ customers: number }>(
    'select cast(count(*) as integer) as customers from customers',
  );
  const companyCount = Math.max(
    3,
    Math.ceil(((count?.customers ?? 0) * CRM_CONTACT_SHARE) / CONTACTS_PER_COMPANY),
  );
  const companyIds = await ensureCompanies(options.seed, companyCount, post);
  const result: CrmSeedResult = {
    companies: companyCount,
    contacts: 0,
    associations: 0,
    lifecycleChanges: 0,
  };

  let after = 0;
  for (;;) {
    const page = await options.source.query<{ customer_id: number; email: string | null }>(
      'select customer_id, email from customers where customer_id > $1 order by customer_id limit $2',
      [after, PAGE],
    );
    if (page.length === 0) break;
    after = page[page.length - 1]?.customer_id as number;
    const planned = page.flatMap((customer) => {
      const email = customer.email?.trim().toLowerCase() ?? '';
      const plan = EMAIL.test(email) ? contactPlan(options.seed, customer.customer_id, companyCount) : null;
      return plan ? [{ email, ...plan }] : [];
    });
    for (let start = 0; start < planned.length; start += BATCH) {
      const chunk = planned.slice(start, start + BATCH);
      const upserted = await post<{ results: { id: string; properties: Record<string, string | null> }[] }>(
        '/crm/v3/objects/contacts/batch/upsert',
        {
          inputs: chunk.map((contact) => ({
            idProperty: 'email',
            id: contact.email,
            properties: { email: contact.email, lifecyclestage: contact.stage },
          })),
        },
      );
      const idOf = new Map(upserted.results.map((row) => [row.properties.email ?? '', row.id]));
      const created = chunk.map((contact) => ({ ...contact, id: idOf.get(contact.email) }));
      const missing = created.find((contact) => contact.id === undefined);
      if (missing) throw new Error(`HubSpot upsert returned no contact for ${missing.email}`);
      await post('/crm/v4/associations/contacts/companies/batch/create', {
        inputs: created.map((contact) => ({
          from: { id: contact.id },
          to: { id: companyIds[contact.company] },
          types: [
            { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: PRIMARY_COMPANY_ASSOCIATION_TYPE },
          ],
        })),
      });
      const moving = created.filter((contact) => contact.laterStage !== null);
      // A write of its own: HubSpot stamps it later than the creation, a change the CRM's history keeps.
      if (moving.length > 0)
        await post('/crm/v3/objects/contacts/batch/update', {
          inputs: moving.map((contact) => ({
            id: contact.id,
            properties: { lifecyclestage: contact.laterStage },
          })),
        });
      result.contacts += chunk.length;
      result.associations += chunk.length;
      result.lifecycleChanges += moving.length;
    }
  }
  return result;
}

/** The id of every company, by index: found by domain, created when the portal lacks it (a rerun creates none). */
async function ensureCompanies(
  seed: number,
  count: number,
  post: <T>(path: string, body: unknown) => Promise<T>,
): Promise<string[]> {
  const ids: string[] = new Array(count);
  for (let start = 0; start < count; start += BATCH) {
    const companies = Array.from({ length: Math.min(BATCH, count - start) }, (_, offset) =>
      companyOf(seed, start + offset),
    );
    const found = await post<{ results: { id: string; properties: Record<string, string | null> }[] }>(
      '/crm/v3/objects/companies/search',
      {
        filterGroups: [
          { filters: [{ propertyName: 'domain', operator: 'IN', values: companies.map((c) => c.domain) }] },
        ],
        properties: ['domain'],
        limit: 200,
      },
    );
    const byDomain = new Map(found.results.map((row) => [row.properties.domain ?? '', row.id]));
    const missing = companies.filter((company) => !byDomain.has(company.domain));
    if (missing.length > 0) {
      const created = await post<{ results: { id: string; properties: Record<string, string | null> }[] }>(
        '/crm/v3/objects/companies/batch/create',
        { inputs: missing.map((company) => ({ properties: company })) },
      );
      for (const row of created.results) byDomain.set(row.properties.domain ?? '', row.id);
    }
    companies.forEach((company, offset) => {
      const id = byDomain.get(company.domain);
      if (id === undefined) throw new Error(`HubSpot returned no company for ${company.domain}`);
      ids[start + offset] = id;
    });
  }
  return ids;
}
