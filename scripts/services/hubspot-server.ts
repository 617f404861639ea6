// A local stand-in for HubSpot's CRM API, for the HubSpot source's tests (no internet here, and a real portal
// cannot be seeded with 10,000 rows sharing a timestamp). It follows HubSpot's documented request and response
// shapes for what the source uses: CRM v3 search (filterGroups, one sort, properties, limit <= 200, `after`, total,
// the 10,000-result cap), v3 batch create/update/upsert, v3 properties, v4 associations (batch create, batch read,
// per-object list), bearer-token auth and the error body `{status, message, correlationId, category}`.
//
//   node scripts/services/hubspot-server.ts --port 23456 [--host 127.0.0.1]
//
// Not HubSpot (all under /__test/, so no client of the real API could call them by mistake):
//   POST /__test/portals {searchResultCap?, writableTimestamps?} -> {token}: a fresh empty portal per test, so the
//        suites sharing this server never see each other's objects. `searchResultCap` lowers the 10,000 cap so a
//        test can cross it with a few hundred rows; `writableTimestamps` lets batch create/update set
//        hs_lastmodifieddate and createdate (read-only in HubSpot) so tests can seed ties and old changes.
//   POST /__test/faults {count, status, retryAfterSeconds?} (the portal's bearer token): its next `count` requests
//        answer `status` (429 with Retry-After and HubSpot's rate-limit body, or a 5xx).
//   POST /__test/faults {count, delayMs} (bearer): its next `count` requests are answered normally, but only after
//        `delayMs` (a hung connection, for a client's timeout).
//   POST /__test/mutations {afterRequests, type, inputs} (bearer): once `afterRequests` more API requests of the
//        portal have been answered, applies `inputs` as a batch update of `type` before the next one is read (an
//        edit landing between two pages of a client's read).
//   GET  /__test/stats (bearer): {requests, faultsServed, delaysServed, mutationsApplied, searches, searchFilters}.
// Data lives in memory: a restart empties every portal (tests create their own).
import crypto from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const DEFAULT_CAP = 10_000;
const MAX_SEARCH_LIMIT = 200;
const MAX_BATCH_INPUTS = 100;
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const DATE_PROPERTIES = new Set(['hs_lastmodifieddate', 'lastmodifieddate', 'createdate']);
const NUMBER_PROPERTIES = new Set(['hs_object_id']);
/** What a search returns when it names no properties (HubSpot's defaults for these objects). */
const DEFAULT_PROPERTIES: Record<string, string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
};
const OBJECT_TYPES = new Set(Object.keys(DEFAULT_PROPERTIES));
/** HubSpot's default association type ids (contact_to_company primary 1, unlabeled 279; and back). */
const DEFAULT_ASSOCIATION: Record<string, number> = { 'contacts/companies': 279, 'companies/contacts': 280 };
const BUILTIN_PROPERTIES: Record<string, string[]> = {
  contacts: [
    'createdate',
    'email',
    'firstname',
    'lastname',
    'company',
    'lifecyclestage',
    'hs_object_id',
    'lastmodifieddate',
    'hs_lastmodifieddate',
  ],
  companies: [
    'createdate',
    'domain',
    'name',
    'industry',
    'lifecyclestage',
    'hs_object_id',
    'hs_lastmodifieddate',
  ],
};

interface CrmObject {
  id: number;
  properties: Map<string, string>;
  createdAt: number;
  updatedAt: number;
}

interface AssociationType {
  category: 'HUBSPOT_DEFINED' | 'USER_DEFINED';
  typeId: number;
  label: string | null;
}

interface Portal {
  token: string;
  searchResultCap: number;
  writableTimestamps: boolean;
  nextId: number;
  objects: Map<string, Map<number, CrmObject>>;
  /** `contacts/companies` -> from id -> to id -> types. Both directions are stored, as HubSpot shows both. */
  associations: Map<string, Map<number, Map<number, AssociationType[]>>>;
  faults: { count: number; status: number; retryAfterSeconds: number };
  delays: { count: number; ms: number };
  mutations: { afterRequests: number; type: string; inputs: Record<string, unknown>[] }[];
  stats: {
    requests: number;
    faultsServed: number;
    delaysServed: number;
    mutationsApplied: number;
    searches: number;
    searchFilters: string[];
  };
}

const portals = new Map<string, Portal>();

class HttpError extends Error {
  status: number;
  category: string;
  constructor(status: number, category: string, message: string) {
    super(message);
    this.status = status;
    this.category = category;
  }
}

const validation = (message: string) => new HttpError(400, 'VALIDATION_ERROR', message);

function errorBody(category: string, message: string): Record<string, unknown> {
  return { status: 'error', message, correlationId: crypto.randomUUID(), category };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function newPortal(options: { searchResultCap?: unknown; writableTimestamps?: unknown }): Portal {
  const cap = options.searchResultCap === undefined ? DEFAULT_CAP : Number(options.searchResultCap);
  if (!Number.isInteger(cap) || cap < 1) throw validation('searchResultCap must be a positive integer');
  const token = `pat-test-${crypto.randomBytes(12).toString('hex')}`;
  const portal: Portal = {
    token,
    searchResultCap: cap,
    writableTimestamps: options.writableTimestamps === true,
    // Real ids are large and not dense; starting high keeps tests from assuming small ids.
    nextId: 100_001,
    objects: new Map([...OBJECT_TYPES].map((type) => [type, new Map()])),
    associations: new Map(),
    faults: { count: 0, status: 0, retryAfterSeconds: 0 },
    delays: { count: 0, ms: 0 },
    mutations: [],
    stats: {
      requests: 0,
      faultsServed: 0,
      delaysServed: 0,
      mutationsApplied: 0,
      searches: 0,
      searchFilters: [],
    },
  };
  portals.set(token, portal);
  return portal;
}

function authenticate(req: http.IncomingMessage): Portal {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (\S+)$/i.exec(header);
  if (!match) {
    throw new HttpError(
      401,
      'INVALID_AUTHENTICATION',
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    );
  }
  const portal = portals.get(match[1] as string);
  if (!portal) {
    throw new HttpError(
      401,
      'INVALID_AUTHENTICATION',
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    );
  }
  return portal;
}

function objectsOf(portal: Portal, type: string): Map<number, CrmObject> {
  const objects = portal.objects.get(type);
  if (!objects) throw new HttpError(400, 'OBJECT_NOT_FOUND', `Unable to infer object type from: ${type}`);
  return objects;
}

const iso = (ms: number) => new Date(ms).toISOString();

function asMillis(value: string): number {
  if (/^-?\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw validation(`${value} is not a valid date value`);
  return parsed;
}

/** The value a filter or sort compares: dates and numbers as numbers, the rest as text. */
function comparable(name: string, value: string): number | string {
  if (DATE_PROPERTIES.has(name)) return asMillis(value);
  if (NUMBER_PROPERTIES.has(name)) {
    const number = Number(value);
    if (Number.isNaN(number)) throw validation(`${value} is not a valid number for ${name}`);
    return number;
  }
  return value;
}

function compare(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function propertyValue(object: CrmObject, name: string): string | undefined {
  if (name === 'hs_object_id') return String(object.id);
  return object.properties.get(name);
}

interface Filter {
  propertyName?: unknown;
  operator?: unknown;
  value?: unknown;
  highValue?: unknown;
  values?: unknown;
}

function matchesFilter(object: CrmObject, filter: Filter): boolean {
  const name = String(filter.propertyName ?? '');
  if (name === '') throw validation('filter is missing propertyName');
  const raw = propertyValue(object, name);
  const operator = String(filter.operator ?? '');
  if (operator === 'HAS_PROPERTY') return raw !== undefined && raw !== '';
  if (operator === 'NOT_HAS_PROPERTY') return raw === undefined || raw === '';
  const needs = (key: 'value' | 'highValue') => {
    const given = filter[key];
    if (given === undefined || given === null) throw validation(`${operator} filter on ${name} needs ${key}`);
    return comparable(name, String(given));
  };
  if (operator === 'IN' || operator === 'NOT_IN') {
    if (!Array.isArray(filter.values)) throw validation(`${operator} filter on ${name} needs values`);
    const set = filter.values.map((v) => comparable(name, String(v)));
    const found = raw !== undefined && set.includes(comparable(name, raw));
    return operator === 'IN' ? found : !found;
  }
  if (raw === undefined || raw === '') return operator === 'NEQ';
  const actual = comparable(name, raw);
  switch (operator) {
    case 'EQ':
      return compare(actual, needs('value')) === 0;
    case 'NEQ':
      return compare(actual, needs('value')) !== 0;
    case 'LT':
      return compare(actual, needs('value')) < 0;
    case 'LTE':
      return compare(actual, needs('value')) <= 0;
    case 'GT':
      return compare(actual, needs('value')) > 0;
    case 'GTE':
      return compare(actual, needs('value')) >= 0;
    case 'BETWEEN':
      return compare(actual, needs('value')) >= 0 && compare(actual, needs('highValue')) <= 0;
    default:
      throw validation(`Unsupported filter operator: ${operator}`);
  }
}

interface Sort {
  propertyName: string;
  direction: 'ASCENDING' | 'DESCENDING';
}

/** HubSpot takes `{propertyName, direction}` objects; the SDK types them as strings (`name` or `-name`). */
function parseSorts(sorts: unknown): Sort | undefined {
  if (sorts === undefined || sorts === null) return undefined;
  if (!Array.isArray(sorts)) throw validation('sorts must be an array');
  if (sorts.length === 0) return undefined;
  if (sorts.length > 1) throw validation('Only one sort is supported');
  const sort = sorts[0] as unknown;
  if (typeof sort === 'string') {
    return sort.startsWith('-')
      ? { propertyName: sort.slice(1), direction: 'DESCENDING' }
      : { propertyName: sort, direction: 'ASCENDING' };
  }
  const { propertyName, direction } = (sort ?? {}) as { propertyName?: unknown; direction?: unknown };
  if (typeof propertyName !== 'string') throw validation('sort is missing propertyName');
  if (direction !== undefined && direction !== 'ASCENDING' && direction !== 'DESCENDING')
    throw validation(`Invalid sort direction: ${String(direction)}`);
  return { propertyName, direction: (direction as Sort['direction'] | undefined) ?? 'ASCENDING' };
}

function toPublic(object: CrmObject, type: string, names: string[] | undefined) {
  const wanted = names && names.length > 0 ? names : (DEFAULT_PROPERTIES[type] ?? []);
  // Like HubSpot, the identity and timestamps come back whatever was asked.
  const always = type === 'contacts' ? ['hs_object_id', 'createdate', 'lastmodifieddate'] : ['hs_object_id'];
  const properties: Record<string, string | null> = {};
  for (const name of [...always, ...wanted, ...(type === 'companies' ? ['hs_lastmodifieddate'] : [])])
    properties[name] = propertyValue(object, name) ?? null;
  return {
    id: String(object.id),
    properties,
    createdAt: iso(object.createdAt),
    updatedAt: iso(object.updatedAt),
    archived: false,
  };
}

function search(portal: Portal, type: string, body: Record<string, unknown>) {
  portal.stats.searches += 1;
  const objects = objectsOf(portal, type);
  const limit = body.limit === undefined || body.limit === null ? 10 : Number(body.limit);
  if (!Number.isInteger(limit) || limit < 0) throw validation('limit must be a non-negative integer');
  if (limit > MAX_SEARCH_LIMIT) throw validation(`limit must be less than or equal to ${MAX_SEARCH_LIMIT}`);
  const offset =
    body.after === undefined || body.after === null || body.after === '' ? 0 : Number(body.after);
  if (!Number.isInteger(offset) || offset < 0) throw validation(`Invalid after value: ${String(body.after)}`);
  if (offset >= portal.searchResultCap) {
    throw validation(
      `Paging beyond ${portal.searchResultCap} results is not supported; narrow the search with filters.`,
    );
  }
  const groups = (body.filterGroups ?? []) as { filters?: Filter[] }[];
  if (!Array.isArray(groups)) throw validation('filterGroups must be an array');
  if (groups.length > MAX_FILTER_GROUPS) throw validation(`At most ${MAX_FILTER_GROUPS} filterGroups`);
  for (const group of groups)
    if ((group.filters ?? []).length > MAX_FILTERS_PER_GROUP)
      throw validation(`At most ${MAX_FILTERS_PER_GROUP} filters per filterGroup`);
  const sort = parseSorts(body.sorts);
  // What each search asked, so a test can tell which way a client paged (kept short: the last 1,000).
  portal.stats.searchFilters.push(
    groups
      .map((group) => (group.filters ?? []).map((f) => `${f.propertyName} ${f.operator}`).join(' AND '))
      .join(' OR ') + (body.after ? ` after=${String(body.after)}` : ''),
  );
  if (portal.stats.searchFilters.length > 1000) portal.stats.searchFilters.shift();
  const names = Array.isArray(body.properties) ? body.properties.map(String) : undefined;
  let matches = [...objects.values()].filter(
    (object) =>
      groups.length === 0 ||
      groups.some((group) => (group.filters ?? []).every((filter) => matchesFilter(object, filter))),
  );
  // Ties are broken by id so paging is stable, as HubSpot's search is in practice.
  matches = matches.sort((a, b) => {
    if (sort) {
      const av = propertyValue(a, sort.propertyName);
      const bv = propertyValue(b, sort.propertyName);
      if (av !== bv) {
        if (av === undefined) return 1;
        if (bv === undefined) return -1;
        const order = compare(comparable(sort.propertyName, av), comparable(sort.propertyName, bv));
        if (order !== 0) return sort.direction === 'DESCENDING' ? -order : order;
      }
    }
    return a.id - b.id;
  });
  const page = matches.slice(offset, offset + limit);
  const next = offset + limit < matches.length ? { next: { after: String(offset + limit) } } : undefined;
  return {
    total: matches.length,
    results: page.map((object) => toPublic(object, type, names)),
    ...(next ? { paging: next } : {}),
  };
}

function applyProperties(
  portal: Portal,
  object: CrmObject,
  properties: unknown,
  now: number,
  isNew: boolean,
) {
  if (properties === null || typeof properties !== 'object') throw validation('properties must be an object');
  let modified = now;
  for (const [name, value] of Object.entries(properties as Record<string, unknown>)) {
    if (name === 'hs_object_id') continue;
    if (DATE_PROPERTIES.has(name)) {
      if (!portal.writableTimestamps) throw validation(`Property "${name}" is read-only`);
      const ms = asMillis(String(value));
      if (name === 'createdate' && isNew) object.createdAt = ms;
      else if (name !== 'createdate') modified = ms;
      continue;
    }
    object.properties.set(name, value === null ? '' : String(value));
  }
  object.updatedAt = modified;
  object.properties.set('createdate', iso(object.createdAt));
  object.properties.set('hs_lastmodifieddate', iso(modified));
  object.properties.set('lastmodifieddate', iso(modified));
}

function inputsOf(body: Record<string, unknown>): Record<string, unknown>[] {
  if (!Array.isArray(body.inputs)) throw validation('inputs must be an array');
  if (body.inputs.length > MAX_BATCH_INPUTS) throw validation(`At most ${MAX_BATCH_INPUTS} inputs per batch`);
  return body.inputs as Record<string, unknown>[];
}

function batchResult(results: unknown[], started: number) {
  return { status: 'COMPLETE', results, startedAt: iso(started), completedAt: iso(Date.now()) };
}

function batchCreate(portal: Portal, type: string, body: Record<string, unknown>) {
  const objects = objectsOf(portal, type);
  const now = Date.now();
  const created = inputsOf(body).map((input) => {
    const object: CrmObject = { id: portal.nextId++, properties: new Map(), createdAt: now, updatedAt: now };
    applyProperties(portal, object, input.properties ?? {}, now, true);
    objects.set(object.id, object);
    for (const association of (input.associations ?? []) as {
      to?: { id?: unknown };
      types?: { associationCategory?: string; associationTypeId?: number }[];
    }[]) {
      const toType = type === 'contacts' ? 'companies' : 'contacts';
      associate(portal, type, toType, object.id, Number(association.to?.id), association.types);
    }
    return object;
  });
  return batchResult(
    created.map((object) => toPublic(object, type, [...object.properties.keys()])),
    now,
  );
}

function batchUpdate(portal: Portal, type: string, body: Record<string, unknown>) {
  const objects = objectsOf(portal, type);
  const now = Date.now();
  const updated = inputsOf(body).map((input) => {
    const object = objects.get(Number(input.id));
    if (!object)
      throw new HttpError(404, 'OBJECT_NOT_FOUND', `Object not found. objectId: ${String(input.id)}`);
    applyProperties(portal, object, input.properties ?? {}, now, false);
    return object;
  });
  return batchResult(
    updated.map((object) => toPublic(object, type, [...object.properties.keys()])),
    now,
  );
}

/** Upsert by a unique property (`idProperty`), creating what no object carries yet. */
function batchUpsert(portal: Portal, type: string, body: Record<string, unknown>) {
  const objects = objectsOf(portal, type);
  const now = Date.now();
  const results = inputsOf(body).map((input) => {
    const idProperty = String(input.idProperty ?? 'hs_object_id');
    const key = String(input.id ?? '');
    let object = [...objects.values()].find((candidate) => propertyValue(candidate, idProperty) === key);
    const isNew = object === undefined;
    if (!object) {
      object = { id: portal.nextId++, properties: new Map(), createdAt: now, updatedAt: now };
      if (idProperty !== 'hs_object_id') object.properties.set(idProperty, key);
      objects.set(object.id, object);
    }
    applyProperties(portal, object, input.properties ?? {}, now, isNew);
    return { ...toPublic(object, type, [...object.properties.keys()]), new: isNew };
  });
  return batchResult(results, now);
}

function associationMap(portal: Portal, from: string, to: string) {
  const key = `${from}/${to}`;
  let map = portal.associations.get(key);
  if (!map) {
    map = new Map();
    portal.associations.set(key, map);
  }
  return map;
}

function associate(
  portal: Portal,
  from: string,
  to: string,
  fromId: number,
  toId: number,
  types: { associationCategory?: string; associationTypeId?: number }[] | undefined,
) {
  if (!objectsOf(portal, from).has(fromId) || !objectsOf(portal, to).has(toId))
    throw validation(`Cannot associate ${from} ${fromId} with ${to} ${toId}: object not found`);
  const given = types && types.length > 0 ? types : [{}];
  const forward: AssociationType[] = given.map((type) => ({
    category: type.associationCategory === 'USER_DEFINED' ? 'USER_DEFINED' : 'HUBSPOT_DEFINED',
    typeId: Number(type.associationTypeId ?? DEFAULT_ASSOCIATION[`${from}/${to}`] ?? 1),
    label: null,
  }));
  const put = (a: string, b: string, x: number, y: number, list: AssociationType[]) => {
    const map = associationMap(portal, a, b);
    const targets = map.get(x) ?? new Map<number, AssociationType[]>();
    map.set(x, targets);
    const existing = targets.get(y) ?? [];
    for (const type of list)
      if (!existing.some((e) => e.typeId === type.typeId && e.category === type.category))
        existing.push(type);
    targets.set(y, existing);
  };
  put(from, to, fromId, toId, forward);
  const reverseType = DEFAULT_ASSOCIATION[`${to}/${from}`] ?? 1;
  put(to, from, toId, fromId, [{ category: 'HUBSPOT_DEFINED', typeId: reverseType, label: null }]);
}

function associationsBatchCreate(portal: Portal, from: string, to: string, body: Record<string, unknown>) {
  const started = Date.now();
  const results = inputsOf(body).map((input) => {
    const fromId = Number((input.from as { id?: unknown } | undefined)?.id);
    const toId = Number((input.to as { id?: unknown } | undefined)?.id);
    associate(portal, from, to, fromId, toId, input.types as never);
    return { fromObjectTypeId: from, fromObjectId: fromId, toObjectTypeId: to, toObjectId: toId, labels: [] };
  });
  return batchResult(results, started);
}

function toAssociated(targets: Map<number, AssociationType[]>) {
  return [...targets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([toObjectId, types]) => ({ toObjectId: String(toObjectId), associationTypes: types }));
}

/** 200 when every id has associations; otherwise 207 with an error per id that has none, as HubSpot does. */
function associationsBatchRead(portal: Portal, from: string, to: string, body: Record<string, unknown>) {
  objectsOf(portal, from);
  objectsOf(portal, to);
  const started = Date.now();
  if (!Array.isArray(body.inputs)) throw validation('inputs must be an array');
  if (body.inputs.length > 1000) throw validation('At most 1000 inputs per batch');
  const map = associationMap(portal, from, to);
  const results: unknown[] = [];
  const missing: string[] = [];
  for (const input of body.inputs as { id?: unknown }[]) {
    const id = String(input.id ?? '');
    const targets = map.get(Number(id));
    if (targets && targets.size > 0) results.push({ from: { id }, to: toAssociated(targets) });
    else missing.push(id);
  }
  const response: Record<string, unknown> = batchResult(results, started);
  if (missing.length === 0) return { status: 200, body: response };
  response.numErrors = missing.length;
  response.errors = missing.map((id) => ({
    status: 'error',
    category: 'OBJECT_NOT_FOUND',
    subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND',
    message: `No ${to} is associated with ${from} ${id}.`,
    context: { fromObjectId: [id] },
    errors: [],
    links: {},
  }));
  return { status: 207, body: response };
}

function properties(portal: Portal, type: string) {
  const names = new Set(BUILTIN_PROPERTIES[type] ?? []);
  for (const object of objectsOf(portal, type).values())
    for (const name of object.properties.keys()) names.add(name);
  return {
    results: [...names].sort().map((name) => ({
      name,
      label: name,
      type: DATE_PROPERTIES.has(name) ? 'datetime' : NUMBER_PROPERTIES.has(name) ? 'number' : 'string',
      fieldType: DATE_PROPERTIES.has(name) ? 'date' : NUMBER_PROPERTIES.has(name) ? 'number' : 'text',
      groupName: `${type.replace(/s$/, '')}information`,
      hidden: false,
      modificationMetadata: { archivable: true, readOnlyDefinition: true, readOnlyValue: false },
    })),
  };
}

/** HubSpot's rate-limit headers, so a client that reads them finds them. */
function rateHeaders(): Record<string, string> {
  return {
    'x-hubspot-ratelimit-daily': '500000',
    'x-hubspot-ratelimit-daily-remaining': '499000',
    'x-hubspot-ratelimit-interval-milliseconds': '10000',
    'x-hubspot-ratelimit-max': '190',
    'x-hubspot-ratelimit-remaining': '189',
  };
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1');
  }
}

/** Serves a pending fault of the portal, if any: true when the request was answered. */
function injectFault(portal: Portal, res: http.ServerResponse): boolean {
  if (portal.faults.count <= 0) return false;
  portal.faults.count -= 1;
  portal.stats.faultsServed += 1;
  const status = portal.faults.status;
  if (status === 429) {
    send(
      res,
      429,
      {
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        correlationId: crypto.randomUUID(),
        policyName: 'TEN_SECONDLY_ROLLING',
      },
      {
        'retry-after': String(portal.faults.retryAfterSeconds),
        ...rateHeaders(),
        'x-hubspot-ratelimit-remaining': '0',
      },
    );
  } else {
    // A gateway error comes from the proxy in front of the API, not as JSON.
    const text = `<html><body><h1>${status}</h1>upstream error</body></html>`;
    res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
  return true;
}

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (method === 'GET' && path === '/') return send(res, 200, { service: 'hubspot test server' });
  if (method === 'POST' && path === '/__test/portals') {
    const portal = newPortal(await readJson(req));
    return send(res, 201, { token: portal.token, searchResultCap: portal.searchResultCap });
  }
  const portal = authenticate(req);
  if (method === 'POST' && path === '/__test/faults') {
    const body = await readJson(req);
    if (body.delayMs !== undefined) {
      const ms = Number(body.delayMs);
      const count = Number(body.count ?? 1);
      if (!Number.isInteger(ms) || ms < 0 || !Number.isInteger(count) || count < 0)
        throw validation('delayMs and count must be non-negative integers');
      portal.delays = { count, ms };
      return send(res, 200, portal.delays);
    }
    const status = Number(body.status);
    if (status !== 429 && !(status >= 500 && status <= 599)) throw validation('status must be 429 or 5xx');
    portal.faults = {
      count: Number(body.count ?? 1),
      status,
      retryAfterSeconds: Number(body.retryAfterSeconds ?? 1),
    };
    return send(res, 200, portal.faults);
  }
  if (method === 'POST' && path === '/__test/mutations') {
    const body = await readJson(req);
    const afterRequests = Number(body.afterRequests);
    if (!Number.isInteger(afterRequests) || afterRequests < 0)
      throw validation('afterRequests must be a non-negative integer');
    const type = String(body.type ?? '');
    const objects = objectsOf(portal, type);
    const inputs = inputsOf(body);
    for (const input of inputs)
      if (!objects.has(Number(input.id)))
        throw new HttpError(404, 'OBJECT_NOT_FOUND', `Object not found. objectId: ${String(input.id)}`);
    const mutation = { afterRequests, type, inputs };
    if (afterRequests === 0) applyMutation(portal, mutation);
    else portal.mutations.push(mutation);
    return send(res, 200, { afterRequests, type, inputs: inputs.length });
  }
  if (method === 'GET' && path === '/__test/stats') return send(res, 200, portal.stats);
  portal.stats.requests += 1;
  try {
    await answer(portal, req, res, method, path);
  } finally {
    // In the same turn of the event loop as the answer: the server reads no other request in between, so the
    // client's next request sees the change.
    applyDueMutations(portal);
  }
}

function applyMutation(portal: Portal, mutation: Portal['mutations'][number]) {
  batchUpdate(portal, mutation.type, { inputs: mutation.inputs });
  portal.stats.mutationsApplied += 1;
}

function applyDueMutations(portal: Portal) {
  const due: Portal['mutations'] = [];
  portal.mutations = portal.mutations.filter((mutation) => {
    mutation.afterRequests -= 1;
    if (mutation.afterRequests > 0) return true;
    due.push(mutation);
    return false;
  });
  for (const mutation of due) {
    try {
      applyMutation(portal, mutation);
    } catch (error) {
      // Objects checked when it was scheduled; a failure now is the server's bug, logged, never the client's answer.
      console.error('scheduled mutation failed:', error);
    }
  }
}

async function answer(
  portal: Portal,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  method: string,
  path: string,
): Promise<void> {
  if (portal.delays.count > 0) {
    portal.delays.count -= 1;
    portal.stats.delaysServed += 1;
    await sleep(portal.delays.ms);
    // The client gave up waiting: nothing to answer.
    if (res.destroyed || req.socket.destroyed) return;
  }
  if (injectFault(portal, res)) return;
  const headers = rateHeaders();
  let m = /^\/crm\/v3\/objects\/([^/]+)\/search$/.exec(path);
  if (m && method === 'POST')
    return send(res, 200, search(portal, m[1] as string, await readJson(req)), headers);
  m = /^\/crm\/v3\/objects\/([^/]+)\/batch\/(create|update|upsert)$/.exec(path);
  if (m && method === 'POST') {
    const body = await readJson(req);
    const type = m[1] as string;
    const op = m[2];
    const result =
      op === 'create'
        ? batchCreate(portal, type, body)
        : op === 'update'
          ? batchUpdate(portal, type, body)
          : batchUpsert(portal, type, body);
    return send(res, op === 'create' ? 201 : 200, result, headers);
  }
  m = /^\/crm\/v3\/properties\/([^/]+)$/.exec(path);
  if (m && method === 'GET') return send(res, 200, properties(portal, m[1] as string), headers);
  m = /^\/crm\/v4\/associations\/([^/]+)\/([^/]+)\/batch\/(create|read)$/.exec(path);
  if (m && method === 'POST') {
    const body = await readJson(req);
    const [from, to] = [m[1] as string, m[2] as string];
    if (m[3] === 'create') return send(res, 201, associationsBatchCreate(portal, from, to, body), headers);
    const read = associationsBatchRead(portal, from, to, body);
    return send(res, read.status, read.body, headers);
  }
  m = /^\/crm\/v4\/objects\/([^/]+)\/(\d+)\/associations\/([^/]+)$/.exec(path);
  if (m && method === 'GET') {
    const [from, id, to] = [m[1] as string, Number(m[2]), m[3] as string];
    if (!objectsOf(portal, from).has(id))
      throw new HttpError(404, 'OBJECT_NOT_FOUND', `Object not found. objectId: ${id}`);
    objectsOf(portal, to);
    const targets = associationMap(portal, from, to).get(id) ?? new Map();
    return send(res, 200, { results: toAssociated(targets) }, headers);
  }
  throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${path}`);
}

function parseArgs(argv: string[]): { port: number; host: string } {
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const port = Number(value('--port'));
  if (!Number.isInteger(port) || port <= 0)
    throw new Error('usage: hubspot-server.ts --port <port> [--host <host>]');
  return { port, host: value('--host') ?? '127.0.0.1' };
}

export function createHubSpotServer(): http.Server {
  return http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError)
        return send(res, error.status, errorBody(error.category, error.message));
      console.error(error);
      send(res, 500, errorBody('INTERNAL_ERROR', 'internal error'));
    });
  });
}

if (import.meta.main) {
  const { port, host } = parseArgs(process.argv.slice(2));
  const server = createHubSpotServer();
  server.listen(port, host, () => console.log(`hubspot test server listening on http://${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
