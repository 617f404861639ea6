import { describe, expect, it } from 'vitest';
import { contractFor } from '../contracts/data-contracts.ts';
import { HISTORY_DAYS, historyRows } from './history.ts';

const asOf = new Date('2026-10-01T00:00:00Z');
const options = { seed: 7, asOf, liveOrders: 5000 };

describe('generated sales history', () => {
  const rows = historyRows(options);

  it('covers the two years before the orders window (asOf - 30 days), one row per day and currency sold in', () => {
    expect(rows[0]?.sales_date).toBe('2024-09-01');
    expect(rows[rows.length - 1]?.sales_date).toBe('2026-08-31');
    const days = new Set(rows.map((row) => row.sales_date));
    expect(days.size).toBe(HISTORY_DAYS);
    const keys = new Set(rows.map((row) => `${row.sales_date}|${row.currency}`));
    expect(keys.size).toBe(rows.length);
  });

  it('is the same for a seed and differs between seeds', () => {
    expect(historyRows(options)).toEqual(rows);
    expect(historyRows({ ...options, seed: 8 })).not.toEqual(rows);
  });

  it('grows towards the live order rate and passes the sales_history contract', () => {
    const ordersOn = (from: number, to: number) =>
      rows.slice(from, to).reduce((sum, row) => sum + row.order_count, 0);
    const perDay = 5000 / 30;
    expect(ordersOn(0, 50) / 10).toBeLessThan(perDay * 0.5);
    expect(ordersOn(rows.length - 50, rows.length) / 10).toBeGreaterThan(perDay * 0.75);
    const contract = contractFor('sales_history');
    const now = new Date('2026-10-01T12:00:00Z');
    for (const row of rows)
      expect(contract.check({ ...row, order_count: String(row.order_count) }, { now }).reasons).toEqual([]);
  });
});
