/**
 * Checks that SQL runs on Redshift without a Redshift: node-sql-parser's Redshift grammar parses it, then its syntax
 * tree is searched for the constructs PostgreSQL accepts and Redshift rejects. The grammar alone is lenient (it
 * accepts ON CONFLICT and DISTINCT ON), so the tree check is what catches PostgreSQL-only SQL.
 * sql/dialect-check.test.ts checks the SQL files with it; jobs' tests check the statements their code sends, recorded
 * by recordRedshiftSql.
 */
import nodeSqlParser from 'node-sql-parser';
import { expect } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';

export const redshiftParser = new nodeSqlParser.Parser();

/**
 * The grammar's gaps, not Redshift's: it lacks the timestamptz type name (Redshift accepts it) and CREATE TABLE AS
 * (Redshift has it; callers parse the SELECT until the grammar learns it).
 */
export function redshiftGrammarText(sql: string): string {
  return sql.replace(/\btimestamptz\b/gi, 'timestamp');
}

type AstNode = Record<string, unknown>;
/** Syntax-tree shapes of what PostgreSQL accepts and Redshift does not, with what to write instead. */
export const NOT_ON_REDSHIFT: [(node: AstNode) => boolean, string][] = [
  [(node) => node.type === 'conflict', 'ON CONFLICT (use MERGE)'],
  [(node) => node.type === 'DISTINCT ON', 'DISTINCT ON (use row_number())'],
  [
    (node) => node.type === 'aggr_func' && Boolean(node.filter),
    'FILTER (WHERE …) (use CASE inside the aggregate)',
  ],
  [(node) => node.type === 'cast' && node.symbol === '::', ':: casts (use cast(x as type))'],
  [(node) => node.prefix === 'lateral', 'lateral joins'],
  [(node) => node.type === 'array', 'arrays'],
  [(node) => functionName(node) === 'any', 'ANY(array) (use IN or a join)'],
  [
    (node) => functionName(node) === 'generate_series',
    'generate_series (leader node only: use WITH RECURSIVE)',
  ],
  [
    (node) => /^(TEXT|SERIAL|BIGSERIAL|SMALLSERIAL|JSONB?)$/.test(String(node.dataType)),
    'text/serial/json types',
  ],
];

function functionName(node: AstNode): string | undefined {
  if (node.type !== 'function') return undefined;
  const parts = (node.name as { name?: { value?: unknown }[] } | undefined)?.name;
  return String(parts?.[parts.length - 1]?.value ?? '').toLowerCase();
}

/** Throws when Redshift's grammar cannot parse the SQL; returns every PostgreSQL-only construct it uses. */
export function redshiftProblems(sql: string): string[] {
  const ast = redshiftParser.astify(redshiftGrammarText(sql), { database: 'redshift' });
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      for (const [matches, what] of NOT_ON_REDSHIFT) if (matches(value as AstNode)) found.add(what);
      Object.values(value).forEach(visit);
    }
  };
  visit(ast);
  return [...found];
}

/**
 * A warehouse that only listens: dialect 'redshift', every statement `query` and `exec` receive lands in `sent`
 * (exec's text split on `;`), `query` answers `answer(sql)` and `transaction` runs fn on the same recorder.
 * Nothing else is implemented. The split is naive: fine for the jobs' SQL, which keeps `;` out of its literals.
 */
export function recordRedshiftSql(answer: (sql: string) => Record<string, unknown>[] = () => []): {
  db: SqlDatabase;
  sent: string[];
} {
  const sent: string[] = [];
  const db: SqlDatabase = {
    url: 'redshift://recorder',
    dialect: 'redshift',
    concurrency: { connections: 1, locksBlockReaders: true, writersConflict: true },
    async query(sql: string) {
      sent.push(sql);
      return answer(sql);
    },
    async exec(sql: string) {
      sent.push(...sql.split(';').filter((statement) => statement.trim() !== ''));
    },
    transaction: <T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T> => fn(db),
  } as unknown as SqlDatabase;
  return { db, sent };
}

/**
 * Expects each statement to parse as Redshift and use nothing Redshift rejects, with `$N` parameters bound to the
 * timestamp `at` and a leading `create temp table <name> as` left out (the grammar lacks CTAS: its SELECT is what
 * differs between engines). A failure names the statement: a parse error throws, a PostgreSQL-only construct is listed.
 */
export function expectRedshiftAccepts(statements: string[], at: string): void {
  for (const statement of statements) {
    const sql = statement
      .replace(/^\s*create\s+temp(orary)?\s+table\s+[\w.]+\s+as\b/i, '')
      .replace(/\$\d+/g, `cast('${at}' as timestamp)`);
    let problems: string[];
    try {
      problems = redshiftProblems(sql);
    } catch (error) {
      throw new Error(`Redshift's grammar cannot parse: ${statement}\n${(error as Error).message}`, {
        cause: error,
      });
    }
    expect(problems, statement).toEqual([]);
  }
}
