/**
 * Reads the warehouse models in sql/: one model per file, `sql/<layer>/<name>.sql` builds `<layer>.<name>`.
 * A model's header states its grain and declares its tests; its dependencies are derived from the body, never
 * listed by hand (sql/README.md describes the format).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Default sql/ folder of this repository, independent of the working directory. */
export const SQL_ROOT = new URL('../../sql/', import.meta.url).pathname;

export const MODEL_LAYERS = ['silver', 'gold'] as const;
export type ModelLayer = (typeof MODEL_LAYERS)[number];
export type WarehouseLayer = 'bronze' | ModelLayer;

/** blocking: a failure stops the pipeline (the quality gate); warn: recorded as a finding only. */
export type TestSeverity = 'blocking' | 'warn';

interface TestBase {
  severity: TestSeverity;
  /** The declaration as written after `test:`, e.g. `unique(order_id)`: names the check in findings. */
  declaration: string;
}

export type ModelTest =
  | (TestBase & { kind: 'not_null'; columns: string[] })
  | (TestBase & { kind: 'unique'; columns: string[] })
  | (TestBase & { kind: 'accepted_values'; column: string; values: string[] })
  | (TestBase & { kind: 'relationships'; column: string; toModel: string; toColumn: string })
  | (TestBase & { kind: 'expression'; expression: string });

export type ModelTestKind = ModelTest['kind'];

export const TEST_KINDS: ModelTestKind[] = [
  'not_null',
  'unique',
  'accepted_values',
  'relationships',
  'expression',
];

export interface Model {
  /** `<layer>.<name>`, the table it builds. */
  name: string;
  layer: ModelLayer;
  /** Path of the .sql file (relative to the working directory when inside it). */
  file: string;
  /** The sentence after `-- grain:`. */
  grain: string;
  tests: ModelTest[];
  /** Tables the body reads (`bronze.x`, `silver.x`, `gold.x`), sorted, without duplicates. */
  dependsOn: string[];
  /** Why the model reads its own layer (`-- reads gold: …`), when it does. */
  readsOwnLayer?: string;
  /**
   * `-- incremental: <key>`: the model can be brought up to date for a few bronze batches instead of rebuilt
   * (the stream service does, see build.ts applyIncrementally). `<key>` is its unique key, the trimmed bronze
   * column of the same name; the model reads one bronze table and outputs `_batch_id`.
   */
  incrementalKey?: string;
  /**
   * `-- incremental: unique_key=<key> lookback=<n> <unit>` (or the short `-- incremental: <key>`, lookback 1 hour):
   * the batch build may apply only what changed since its last build (jobs/models/incremental.ts). Every input
   * table but the `whole_on` ones has a column named as the recompute key (bronze: the declared column, cast as the
   * model casts it), and the model's rows for a recompute key depend only on the input rows holding that key, on
   * its whole_on inputs (and, for a model reading silver.deleted_keys, on the tombstones of that key). The lookback is how far behind the last build's high-water mark a row may still arrive
   * (a load or stream transaction open across the build) and be picked up by the next incremental build.
   */
  incremental?: IncrementalSpec;
  /** The SELECT (header removed, macros not yet expanded). */
  sql: string;
}

export interface IncrementalSpec {
  /** The model's unique key: one column, or (gold only) columns joined by commas, like `unique(...)` names them. */
  uniqueKey: string;
  /**
   * The column whose values name what an increment recomputes: a changed input row names the model rows holding
   * its value, which are deleted and computed again. The unique key unless `recompute_key=` says otherwise (a line
   * of an order is recomputed with every line of its order: order_id).
   */
  recomputeKey: string;
  /** How far back a stamped input row may arrive late; 0 for a model reading only gold inputs (none needed). */
  lookbackSeconds: number;
  /**
   * Inputs (`whole_on=`) any change of which builds the model whole: they do not carry the recompute key (an FX
   * rate names no order), or their change is rare and hard to map to keys. `silver.deleted_keys` stands for the
   * tombstones (bronze.source_deletes) behind every silver model reading it.
   */
  wholeOn: string[];
  /**
   * Gold inputs (`keyed_via=<input>.<column>:<lookup>`) whose rows name model rows also through another gold input:
   * a changed row of `input` recomputes its own recompute key and the recompute keys of the `lookup` rows holding
   * its `column` value (a changed session recomputes the customers of the orders it converted). Such an input is
   * read whole by an increment, since the rows it contributes to a key need not hold that key.
   */
  keyedVia: KeyedVia[];
}

export interface KeyedVia {
  input: string;
  column: string;
  lookup: string;
}

/**
 * The lookback of the short `-- incremental: <key>` form. It needs to cover only how long a load or stream
 * transaction may stay open across a build (its rows are stamped with its start): minutes; every extra hour is an
 * hour of input recomputed by every build.
 */
export const DEFAULT_LOOKBACK_SECONDS = 3600;

const LOOKBACK_UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };

export interface BronzeTable {
  /** `bronze.<table>` */
  name: string;
  file: string;
  grain: string;
  /** Columns in DDL order. */
  columns: string[];
  /** The `create table if not exists` statement, header comments included. */
  sql: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const TABLE_REFERENCE = /\b(bronze|silver|gold)\s*\.\s*([a-z_][a-z0-9_]*)/gi;

/** Loads, validates and orders (dependencies first) every silver and gold model. Throws listing every problem. */
export function loadModels(sqlRoot: string = SQL_ROOT): Model[] {
  const problems: string[] = [];
  const bronze = loadBronzeTables(sqlRoot);
  const models: Model[] = [];
  for (const layer of MODEL_LAYERS) {
    for (const file of sqlFiles(join(sqlRoot, layer))) {
      try {
        models.push(parseModel(file, readFileSync(file, 'utf8'), layer));
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  problems.push(...checkReferences(models, bronze), ...checkIncrementalInputs(models));
  if (problems.length > 0) throw new Error(`invalid models:\n- ${problems.join('\n- ')}`);
  return orderModels(models);
}

/** Parses one model file. Throws (naming the file) on a missing grain or a malformed test or header line. */
export function parseModel(file: string, text: string, layer: ModelLayer): Model {
  const shown = displayPath(file);
  const name = `${layer}.${baseName(file)}`;
  if (!IDENTIFIER.test(baseName(file)))
    throw new Error(`${shown}: model file names must be snake_case identifiers`);
  const { header, body } = splitHeader(text);
  const grainMatch = /^--\s*grain:\s*(.*)$/.exec(header[0] ?? '');
  const grain = grainMatch?.[1]?.trim() ?? '';
  if (!grainMatch || !/^one row per \S/.test(grain)) {
    throw new Error(`${shown}: the first line must state the grain: "-- grain: one row per …"`);
  }
  const tests: ModelTest[] = [];
  let readsOwnLayer: string | undefined;
  let incremental: IncrementalSpec | undefined;
  for (const line of header.slice(1)) {
    if (/^--\s*tests?\b/i.test(line)) {
      tests.push(parseTestLine(line, shown));
      continue;
    }
    const incrementalLine = /^--\s*incremental\s*:\s*(.*)$/i.exec(line);
    if (incrementalLine) {
      incremental = parseIncremental(incrementalLine[1]?.trim() ?? '', line, shown);
      continue;
    }
    const reads = /^--\s*reads\s+([a-z]+)\s*:\s*(.*)$/i.exec(line);
    if (reads) {
      if (reads[1] !== layer || !reads[2]?.trim()) {
        throw new Error(`${shown}: "${line}" must be "-- reads ${layer}: <why>"`);
      }
      readsOwnLayer = reads[2].trim();
    }
  }
  if (body.trim() === '') throw new Error(`${shown}: no SELECT after the header`);
  const dependsOn = findReferences(body);
  if (incremental !== undefined) {
    const key = incremental.uniqueKey;
    const isUnique = tests.some((test) => test.kind === 'unique' && test.columns.join(',') === key);
    if (!isUnique)
      throw new Error(
        `${shown}: incremental key ${key} needs a "-- test: unique(${key.split(',').join(', ')})"`,
      );
    if (layer === 'silver' && key.includes(','))
      throw new Error(`${shown}: an incremental silver model has a one-column unique key`);
    const bronze = dependsOn.filter((dep) => dep.startsWith('bronze.'));
    const otherInputs = dependsOn.filter(
      (dep) => !dep.startsWith('bronze.') && dep !== 'silver.deleted_keys',
    );
    if (layer === 'silver' && (bronze.length !== 1 || otherInputs.length > 0))
      throw new Error(
        `${shown}: an incremental silver model reads exactly one bronze table (and at most silver.deleted_keys)`,
      );
    if (layer === 'gold' && bronze.length > 0)
      throw new Error(`${shown}: an incremental gold model reads silver and gold tables only`);
    if (incremental.lookbackSeconds === 0 && dependsOn.some((dep) => !dep.startsWith('gold.')))
      throw new Error(`${shown}: an incremental model reading silver or bronze needs a lookback=`);
    if (layer === 'silver' && (incremental.recomputeKey !== key || incremental.wholeOn.length > 0))
      throw new Error(
        `${shown}: recompute_key and whole_on are for gold models (silver reads one bronze table)`,
      );
  }
  // The stream service's applier brings a model up to date per micro-batch only when it reads one bronze table and
  // nothing else (build.ts applyIncrementally).
  const streamable =
    incremental !== undefined && dependsOn.length === 1 && dependsOn[0]?.startsWith('bronze.');
  const incrementalKey = streamable ? incremental?.uniqueKey : undefined;
  return {
    name,
    layer,
    file: shown,
    grain,
    tests,
    dependsOn,
    readsOwnLayer,
    ...(incrementalKey === undefined ? {} : { incrementalKey }),
    ...(incremental === undefined ? {} : { incremental }),
    sql: body,
  };
}

/**
 * The text after `-- incremental:`: `unique_key=<column>[,<column>…] [recompute_key=<column>] [lookback=<n>
 * <second|minute|hour|day>[s]] [whole_on=<table>,…]`, or the short `<column>` (the stream applier's form, lookback
 * DEFAULT_LOOKBACK_SECONDS). `lookback=` may be left out (0) only by a model reading gold inputs alone: a gold input
 * names its changed keys exactly, a stamped silver or bronze row needs the lookback. Throws naming the file and line.
 */
export function parseIncremental(text: string, line: string, file: string): IncrementalSpec {
  const fail = (why: string): never => {
    throw new Error(
      `${file}: "${line}" ${why}: expected "-- incremental: unique_key=<column>[,<column>] [recompute_key=<column>] [lookback=<n> <seconds|minutes|hours|days>] [whole_on=<table>,…] [keyed_via=<input>.<column>:<lookup>,…]"`,
    );
  };
  if (IDENTIFIER.test(text))
    return {
      uniqueKey: text,
      recomputeKey: text,
      lookbackSeconds: DEFAULT_LOOKBACK_SECONDS,
      wholeOn: [],
      keyedVia: [],
    };
  const match =
    /^unique_key\s*=\s*(\S+)(?:\s+recompute_key\s*=\s*(\S+))?(?:\s+lookback\s*=\s*(\d+)\s*([a-z]+))?(?:\s+whole_on\s*=\s*(\S+))?(?:\s+keyed_via\s*=\s*(\S+))?$/i.exec(
      text,
    );
  if (!match) return fail('is malformed');
  const [, key, recompute = key, amount, unit = 'second', wholeOnText, viaText] = match as unknown as [
    string,
    string,
    string | undefined,
    string | undefined,
    string | undefined,
    string | undefined,
    string | undefined,
  ];
  if (!key.split(',').every((column) => IDENTIFIER.test(column))) fail(`has a bad unique key "${key}"`);
  if (key.includes(',') && match[2] === undefined)
    fail('needs a recompute_key with a unique key of several columns');
  if (!IDENTIFIER.test(recompute)) fail(`has a bad recompute key "${recompute}"`);
  const perUnit = LOOKBACK_UNITS[unit.toLowerCase().replace(/s$/, '')];
  if (perUnit === undefined) return fail(`has an unknown lookback unit "${unit}"`);
  const lookbackSeconds = amount === undefined ? 0 : Number(amount) * perUnit;
  if (amount !== undefined && (!Number.isSafeInteger(lookbackSeconds) || lookbackSeconds <= 0))
    fail('needs a positive lookback');
  const wholeOn = wholeOnText === undefined ? [] : wholeOnText.split(',').map((table) => table.trim());
  for (const table of wholeOn)
    if (!/^(bronze|silver|gold)\.[a-z_][a-z0-9_]*$/.test(table)) fail(`has a bad whole_on table "${table}"`);
  const keyedVia = (viaText === undefined ? [] : viaText.split(',')).map((entry) => {
    const via = /^(gold\.[a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*):(gold\.[a-z_][a-z0-9_]*)$/.exec(entry.trim());
    if (!via) return fail(`has a bad keyed_via "${entry}" (expected gold.<input>.<column>:gold.<lookup>)`);
    return { input: via[1] as string, column: via[2] as string, lookup: via[3] as string };
  });
  return { uniqueKey: key, recomputeKey: recompute, lookbackSeconds, wholeOn, keyedVia };
}

/**
 * An incremental gold model sees its inputs change through their `_processed_at`; a silver model's row can also
 * change without it: a tombstone flags it deleted (silver.deleted_keys). A gold model reading such a silver model
 * must say what then happens (`whole_on=silver.deleted_keys`), and every whole_on table must be one it reads or
 * silver.deleted_keys.
 */
function checkIncrementalInputs(models: Model[]): string[] {
  const byName = new Map(models.map((model) => [model.name, model]));
  const problems: string[] = [];
  for (const model of models) {
    const spec = model.incremental;
    if (!spec || model.layer !== 'gold') continue;
    for (const table of spec.wholeOn)
      if (table !== 'silver.deleted_keys' && !model.dependsOn.includes(table))
        problems.push(`${model.file}: whole_on=${table} names a table the model does not read`);
    for (const via of spec.keyedVia)
      for (const table of [via.input, via.lookup])
        if (!model.dependsOn.includes(table) || spec.wholeOn.includes(table))
          problems.push(
            `${model.file}: keyed_via ${via.input}.${via.column}:${via.lookup} needs ${table} among the gold inputs it reads, not whole_on`,
          );
    const readingDeletes = model.dependsOn.filter((input) =>
      byName.get(input)?.dependsOn.includes('silver.deleted_keys'),
    );
    if (readingDeletes.length > 0 && !spec.wholeOn.includes('silver.deleted_keys'))
      problems.push(
        `${model.file}: reads ${readingDeletes.join(', ')}, whose rows a tombstone changes without a new ` +
          '_processed_at: its incremental header needs whole_on=silver.deleted_keys',
      );
  }
  return problems;
}

/**
 * Parses `-- test: kind(args)` or `-- test[warn]: kind(args)`:
 * not_null(a, b) · unique(a[, b]) · accepted_values(col; v1, v2) · relationships(col; layer.model.column) ·
 * expression(<boolean SQL true for every row>).
 */
export function parseTestLine(line: string, file: string): ModelTest {
  const match = /^--\s*test(?:\[(warn|blocking)\])?:\s*([a-z_]+)\s*\(([\s\S]*)\)\s*$/.exec(line.trim());
  const fail = (why: string): never => {
    throw new Error(`${file}: bad test "${line.trim()}": ${why}`);
  };
  if (!match) {
    return fail('expected "-- test: kind(args)" or "-- test[warn]: kind(args)"');
  }
  const severity: TestSeverity = match[1] === 'warn' ? 'warn' : 'blocking';
  const kind = match[2] as string;
  const args = (match[3] as string).trim();
  const declaration = `${kind}(${args})`;
  const columnList = (text: string): string[] => {
    const columns = text.split(',').map((column) => column.trim());
    if (columns.length === 0 || columns.some((column) => !IDENTIFIER.test(column))) {
      fail('expected a comma-separated list of column names');
    }
    return columns;
  };
  const [head = '', rest] = splitOnce(args, ';');
  switch (kind) {
    case 'not_null':
    case 'unique':
      return { kind, severity, declaration, columns: columnList(args) };
    case 'accepted_values': {
      if (rest === undefined) return fail('expected accepted_values(column; value, value, …)');
      const values = rest
        .split(',')
        .map((value) => value.trim().replace(/^'(.*)'$/, '$1'))
        .filter((value) => value !== '');
      if (values.length === 0) fail('no accepted values listed');
      return { kind, severity, declaration, column: columnList(head)[0] as string, values };
    }
    case 'relationships': {
      const target = /^(bronze|silver|gold)\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/.exec(
        rest?.trim() ?? '',
      );
      if (!target) return fail('expected relationships(column; layer.model.column)');
      return {
        kind,
        severity,
        declaration,
        column: columnList(head)[0] as string,
        toModel: `${target[1]}.${target[2]}`,
        toColumn: target[3] as string,
      };
    }
    case 'expression':
      if (args === '' || args.includes(';')) fail('expected one boolean SQL expression');
      return { kind, severity, declaration, expression: args };
    default:
      return fail(`unknown test kind "${kind}" (known: ${TEST_KINDS.join(', ')})`);
  }
}

/** The `layer.table` names a SQL text reads, ignoring comments and string literals. */
export function findReferences(sql: string): string[] {
  const code = stripCommentsAndStrings(sql);
  const found = new Set<string>();
  for (const match of code.matchAll(TABLE_REFERENCE)) {
    found.add(`${(match[1] as string).toLowerCase()}.${(match[2] as string).toLowerCase()}`);
  }
  return [...found].sort();
}

const COMMENT_OR_STRING = /--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'/g;

/**
 * The words of a model's SQL code (comments and strings left out), lower-cased: every column it names is one of
 * them. Null when its result can depend on a column it does not name: a set operation other than union all (it
 * compares whole rows) beside a `*` select list, a natural join, a distinct or a function over `*` or `alias.*`, a
 * positional column alias list.
 */
export function namedWords(sql: string): Set<string> | null {
  const code = sql.replace(COMMENT_OR_STRING, ' ').toLowerCase();
  const unnamed =
    /\bnatural\b|\bdistinct\s+([a-z_][a-z0-9_]*\.)?\*|\(\s*[a-z_][a-z0-9_]*\.\*|\b(from|join)\s+[a-z_][a-z0-9_.]*\s+(as\s+)?[a-z_][a-z0-9_]*\s*\(/;
  if (unnamed.test(code)) return null;
  for (const operation of code.matchAll(/\b(union|except|intersect)\b(\s+all\b)?/g)) {
    if (operation[1] === 'union' && operation[2]) continue;
    const before = code.slice(0, operation.index);
    const after = code.slice(operation.index + operation[0].length);
    const lists = [before.slice(before.lastIndexOf('select')), after.slice(after.indexOf('select'))];
    if (
      lists.some((list) =>
        (list.split(/\bfrom\b/)[0] ?? '').replace(/count\s*\(\s*\*\s*\)/g, '').includes('*'),
      )
    )
      return null;
  }
  return new Set(code.match(/[a-z_][a-z0-9_]*/g) ?? []);
}

/**
 * The SQL with each `layer.table` it reads renamed by `rename` (undefined keeps the name), in code only: comments
 * and string literals are left as written, so a literal can never be rewritten.
 */
export function renameTableReferences(sql: string, rename: (table: string) => string | undefined): string {
  const renameIn = (code: string) =>
    code.replace(TABLE_REFERENCE, (reference, layer: string, table: string) => {
      return rename(`${layer.toLowerCase()}.${table.toLowerCase()}`) ?? reference;
    });
  let renamed = '';
  let end = 0;
  for (const match of sql.matchAll(COMMENT_OR_STRING)) {
    renamed += renameIn(sql.slice(end, match.index)) + match[0];
    end = match.index + match[0].length;
  }
  return renamed + renameIn(sql.slice(end));
}

/**
 * Dependency order (a model after everything it reads), stable: among models ready at the same time the
 * alphabetically first goes first. References to tables outside `models` (bronze) do not constrain the order.
 * Throws naming the files of a cycle.
 */
export function orderModels(models: Model[]): Model[] {
  const byName = new Map(models.map((model) => [model.name, model]));
  const pending = new Map(
    models.map((model) => [model.name, new Set(model.dependsOn.filter((dep) => byName.has(dep)))]),
  );
  const ordered: Model[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter(([, deps]) => deps.size === 0).map(([name]) => name);
    if (ready.length === 0) throw new Error(describeCycle(pending, byName));
    const next = ready.sort()[0] as string;
    pending.delete(next);
    for (const deps of pending.values()) deps.delete(next);
    ordered.push(byName.get(next) as Model);
  }
  return ordered;
}

/**
 * What a model's publication depends on: the tables it reads, and the targets of its blocking relationships tests
 * (its gate passed it against their new tables, so it is only as good as they are; a warn test gates nothing).
 */
export function upstreamOf(model: Model): string[] {
  const checkedAgainst = model.tests.flatMap((test) =>
    test.kind === 'relationships' && test.severity === 'blocking' ? [test.toModel] : [],
  );
  return [...new Set([...model.dependsOn, ...checkedAgainst])];
}

/**
 * The models downstream of `roots` (tables: bronze or models), transitively, following `upstream` (default: the
 * tables a model reads). The roots themselves are included only when they are models reached from another root.
 */
export function downstreamOf(
  models: Model[],
  roots: Iterable<string>,
  upstream: (model: Model) => string[] = (model) => model.dependsOn,
): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const model of models) {
    for (const table of upstream(model))
      dependents.set(table, [...(dependents.get(table) ?? []), model.name]);
  }
  const found = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    for (const name of dependents.get(pending.pop() as string) ?? []) {
      if (found.has(name)) continue;
      found.add(name);
      pending.push(name);
    }
  }
  return found;
}

/** The bronze DDL files: `sql/bronze/<table>.sql`, each a `create table if not exists bronze.<table>`. */
export function loadBronzeTables(sqlRoot: string = SQL_ROOT): BronzeTable[] {
  return sqlFiles(join(sqlRoot, 'bronze')).map((file) => parseBronzeTable(file, readFileSync(file, 'utf8')));
}

/** The restricted landing tables (sql/pii/): rows with personal data in clear, which no model reads. */
export function loadPiiTables(sqlRoot: string = SQL_ROOT): BronzeTable[] {
  return sqlFiles(join(sqlRoot, 'pii')).map((file) =>
    parseBronzeTable(file, readFileSync(file, 'utf8'), 'pii'),
  );
}

export function parseBronzeTable(
  file: string,
  text: string,
  schema: 'bronze' | 'pii' = 'bronze',
): BronzeTable {
  const shown = displayPath(file);
  const table = baseName(file);
  const { header } = splitHeader(text);
  const grain = /^--\s*grain:\s*(one row per .*)$/.exec(header[0] ?? '')?.[1]?.trim();
  if (!grain) throw new Error(`${shown}: the first line must state the grain: "-- grain: one row per …"`);
  const code = stripCommentsAndStrings(text);
  const ddl = new RegExp(
    `create\\s+table\\s+if\\s+not\\s+exists\\s+${schema}\\.${table}\\s*\\(([\\s\\S]*)\\)`,
    'i',
  ).exec(code);
  if (!ddl) throw new Error(`${shown}: expected "create table if not exists ${schema}.${table} (…)"`);
  const columns = splitTopLevel(ddl[1] as string).map(
    (definition) => definition.trim().split(/\s+/)[0] as string,
  );
  return { name: `${schema}.${table}`, file: shown, grain, columns, sql: text };
}

function checkReferences(models: Model[], bronze: BronzeTable[]): string[] {
  const known = new Set([...models.map((model) => model.name), ...bronze.map((table) => table.name)]);
  const layerBelow: Record<ModelLayer, WarehouseLayer> = { silver: 'bronze', gold: 'silver' };
  const problems: string[] = [];
  for (const model of models) {
    let readsOwn = false;
    for (const dep of model.dependsOn) {
      const depLayer = dep.split('.')[0] as WarehouseLayer;
      if (!known.has(dep))
        problems.push(`${model.file}: reads ${dep}, which is neither a model nor a bronze table`);
      else if (depLayer === model.layer) {
        readsOwn = true;
        if (dep === model.name) problems.push(`${model.file}: reads itself`);
        else if (!model.readsOwnLayer) {
          problems.push(
            `${model.file}: reads ${dep} from its own layer without a "-- reads ${model.layer}: <why>" line`,
          );
        }
      } else if (depLayer !== layerBelow[model.layer]) {
        problems.push(
          `${model.file}: reads ${dep}, but ${model.layer} models read only ${layerBelow[model.layer]}`,
        );
      }
    }
    if (model.readsOwnLayer && !readsOwn) {
      problems.push(`${model.file}: has "-- reads ${model.layer}:" but reads no ${model.layer} model`);
    }
    for (const test of model.tests) {
      if (test.kind === 'relationships' && !known.has(test.toModel)) {
        problems.push(`${model.file}: test ${test.declaration} points at unknown table ${test.toModel}`);
      }
    }
  }
  return problems;
}

function describeCycle(pending: Map<string, Set<string>>, byName: Map<string, Model>): string {
  // Every pending model still waits on another pending one, so walking first dependencies must revisit a node.
  const path: string[] = [];
  let current = [...pending.keys()].sort()[0] as string;
  while (!path.includes(current)) {
    path.push(current);
    current = [...(pending.get(current) ?? [])].sort()[0] as string;
  }
  const cycle = [...path.slice(path.indexOf(current)), current];
  const files = [...new Set(cycle)].map((name) => byName.get(name)?.file ?? name);
  return `dependency cycle: ${cycle.join(' → ')} (files: ${files.join(', ')})`;
}

function splitHeader(text: string): { header: string[]; body: string } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let end = 0;
  while (end < lines.length && (lines[end] as string).trim().startsWith('--')) end += 1;
  return {
    header: lines.slice(0, end).map((line) => line.trim()),
    body: lines.slice(end).join('\n').trim(),
  };
}

/** Replaces comments and string literals by spaces, so references and DDL are found only in code. */
export function stripCommentsAndStrings(sql: string): string {
  return sql.replace(COMMENT_OR_STRING, (match) => (match.startsWith("'") ? "''" : ' '.repeat(match.length)));
}

/** The comma-separated parts of a column list or an argument list, commas inside parentheses left alone. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  if (current.trim() !== '') parts.push(current);
  return parts;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function sqlFiles(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => join(folder, name));
}

function baseName(file: string): string {
  return (file.split(/[\\/]/).pop() as string).replace(/\.sql$/, '');
}

function displayPath(file: string): string {
  const shown = relative(process.cwd(), file);
  return shown.startsWith('..') ? file : shown;
}
