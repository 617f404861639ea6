/**
 * gold.agg_customer_kpi on the live shop fixtures of test-fixtures.ts, expected rows worked out by hand: customer 1
 * orders on 11-01 and again on 11-05 (first-time, then returning), customer 2 on 11-01 and a cancelled order on
 * 11-02 (which counts nowhere), customer 3 on 11-03; 11-04 is a quiet day of the calendar.
 */
import { describe, expect, it } from 'vitest';
import { warehouseEngines } from '../../test/pg-database.ts';
import { builtOnFixtures } from './test-fixtures.ts';

describe.each(warehouseEngines('customer_kpi'))('gold.agg_customer_kpi on %s', (_engine, open) => {
  const warehouse = builtOnFixtures(open);
  const query = <Row extends Record<string, unknown>>(sql: string) => warehouse().query<Row>(sql);

  it('counts each ordering customer once a day, first-time on the day of their first kept order, else returning', async () => {
    const days = await query<Record<string, unknown>>(
      `select cast(order_date as varchar(10)) as order_date, ordering_customers, first_time_customers,
         returning_customers
       from gold.agg_customer_kpi order by order_date`,
    );
    expect(days).toEqual([
      { order_date: '2026-11-01', ordering_customers: 2, first_time_customers: 2, returning_customers: 0 },
      { order_date: '2026-11-02', ordering_customers: 0, first_time_customers: 0, returning_customers: 0 },
      { order_date: '2026-11-03', ordering_customers: 1, first_time_customers: 1, returning_customers: 0 },
      { order_date: '2026-11-04', ordering_customers: 0, first_time_customers: 0, returning_customers: 0 },
      { order_date: '2026-11-05', ordering_customers: 1, first_time_customers: 0, returning_customers: 1 },
    ]);
  });

  it('counts as new the customers signed up that day, deleted ones left out', async () => {
    const expected = await query<{ order_date: string; new_customers: number }>(
      `select cast(days.date_day as varchar(10)) as order_date,
         cast(count(customers.customer_id) as integer) as new_customers
       from gold.dim_date days
       left join silver.customers customers
         on cast(customers.signed_up_at as date) = days.date_day and not customers.is_deleted
       group by days.date_day order by days.date_day`,
    );
    const actual = await query<{ order_date: string; new_customers: number }>(
      `select cast(order_date as varchar(10)) as order_date, new_customers
       from gold.agg_customer_kpi order by order_date`,
    );
    expect(actual).toEqual(expected);
  });
});
