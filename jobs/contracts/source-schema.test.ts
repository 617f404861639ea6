import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SQL_ROOT } from '../models/models.ts';
import { type ColumnSpec, sqlColumnType } from './column-types.ts';
import { oltpColumns, SOURCE_TABLES } from './source-tables.ts';

/** The OLTP DDL the generator creates, table by table: column name -> declared type. */
function sourceDdl(): Map<string, Map<string, string>> {
  const text = readFileSync(`${SQL_ROOT}source/schema.sql`, 'utf8').replace(/--[^\n]*/g, '');
  const tables = new Map<string, Map<string, string>>();
  for (const match of text.matchAll(/CREATE TABLE IF NOT EXISTS public\.(\w+) \(([\s\S]*?)\n\);/g)) {
    const columns = new Map<string, string>();
    for (const line of (match[2] as string).split('\n')) {
      const column = /^\s+(\w+)\s+([a-z]+(?:\(\d+, \d+\))?)/.exec(line);
      if (column && column[1] !== 'PRIMARY') columns.set(column[1] as string, column[2] as string);
    }
    tables.set(match[1] as string, columns);
  }
  return tables;
}

/** The OLTP type of a column: the contract's type, with PostgreSQL's own name for text. */
function oltpType(column: ColumnSpec): string {
  return column.type === 'text' ? 'text' : sqlColumnType(column);
}

describe('the OLTP source schema', () => {
  it('declares every contract column with the type the contract checks (one definition per column)', () => {
    const ddl = sourceDdl();
    expect([...ddl.keys()].sort()).toEqual(SOURCE_TABLES.map((table) => table.name).sort());
    for (const table of SOURCE_TABLES) {
      const declared = Object.fromEntries(ddl.get(table.name) ?? []);
      const expected = Object.fromEntries(
        oltpColumns(table).map((column) => [column.name, oltpType(column)]),
      );
      expect(declared, table.name).toEqual(expected);
    }
  });
});
