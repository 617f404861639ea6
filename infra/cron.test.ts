import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import {
  cronFireTimes,
  fromEventBridgeCron,
  longestGapMinutes,
  parseCron,
  toContainerAppsCron,
  toEventBridgeCron,
} from './cron.ts';

/** The day-of-week field each cloud gets for `0 6 * * <field>`. */
function daysOnBothClouds(field: string): { eventBridge: string; containerApps: string } {
  return {
    eventBridge: toEventBridgeCron(`0 6 * * ${field}`),
    containerApps: toContainerAppsCron(`0 6 * * ${field}`),
  };
}

describe('cron translation', () => {
  it('puts ? in day-of-week when only the day of month is free', () => {
    expect(toEventBridgeCron('5 * * * *')).toBe('cron(5 * * * ? *)');
    expect(toEventBridgeCron('0 2 1 * *')).toBe('cron(0 2 1 * ? *)');
  });

  it('puts ? in day-of-month and shifts weekdays to count from Sunday = 1', () => {
    expect(toEventBridgeCron('30 6 * * 1-5')).toBe('cron(30 6 ? * 2-6 *)');
    expect(toEventBridgeCron('0 0 * * 0')).toBe('cron(0 0 ? * 1 *)');
    expect(toEventBridgeCron('0 0 * * 7')).toBe('cron(0 0 ? * 1 *)');
    expect(toEventBridgeCron('0 0 * * mon,fri')).toBe('cron(0 0 ? * 2,6 *)');
  });

  it('treats a day-of-week range covering the whole week as every day, however it is written', () => {
    for (const field of ['1-7', '0-6', '0-7', 'SUN-SAT', 'MON-SUN', '*/1', '0,1,2,3,4,5,6']) {
      expect(daysOnBothClouds(field), field).toEqual({
        eventBridge: 'cron(0 6 * * ? *)',
        containerApps: '0 6 * * *',
      });
    }
  });

  it('keeps Sunday when a range ends on 7', () => {
    expect(daysOnBothClouds('5-7')).toEqual({
      eventBridge: 'cron(0 6 ? * 1,6,7 *)',
      containerApps: '0 6 * * 0,5,6',
    });
    expect(daysOnBothClouds('6-7')).toEqual(daysOnBothClouds('sat,sun'));
  });

  it('translates ranges and lists of weekdays, by number or by name', () => {
    expect(daysOnBothClouds('1-5')).toEqual({
      eventBridge: 'cron(0 6 ? * 2-6 *)',
      containerApps: '0 6 * * 1-5',
    });
    expect(daysOnBothClouds('MON-FRI')).toEqual(daysOnBothClouds('1-5'));
    expect(daysOnBothClouds('1,3,5')).toEqual({
      eventBridge: 'cron(0 6 ? * 2,4,6 *)',
      containerApps: '0 6 * * 1,3,5',
    });
    expect(daysOnBothClouds('0,6')).toEqual({
      eventBridge: 'cron(0 6 ? * 1,7 *)',
      containerApps: '0 6 * * 0,6',
    });
    expect(daysOnBothClouds('1-2,4-6')).toEqual({
      eventBridge: 'cron(0 6 ? * 2,3,5-7 *)',
      containerApps: '0 6 * * 1,2,4-6',
    });
  });

  it('continues a range past Saturday when its end comes first', () => {
    const fridayToMonday = { eventBridge: 'cron(0 6 ? * 1,2,6,7 *)', containerApps: '0 6 * * 0,1,5,6' };
    expect(daysOnBothClouds('5-1')).toEqual(fridayToMonday);
    expect(daysOnBothClouds('FRI-MON')).toEqual(fridayToMonday);
    expect(daysOnBothClouds('7-1')).toEqual({
      eventBridge: 'cron(0 6 ? * 1,2 *)',
      containerApps: '0 6 * * 0,1',
    });
  });

  it('expands day-of-week steps into the days they name', () => {
    expect(daysOnBothClouds('*/2')).toEqual({
      eventBridge: 'cron(0 6 ? * 1,3,5,7 *)',
      containerApps: '0 6 * * 0,2,4,6',
    });
    expect(daysOnBothClouds('1-5/2')).toEqual(daysOnBothClouds('1,3,5'));
    expect(daysOnBothClouds('*/3')).toEqual(daysOnBothClouds('0,3,6'));
  });

  it('refuses, with the reason, what it cannot translate', () => {
    expect(() => toEventBridgeCron('0 0 1 * 1')).toThrow(/restricts both day-of-month and day-of-week/);
    expect(() => toContainerAppsCron('0 0 1 * 1-7')).toThrow(/restricts both day-of-month and day-of-week/);
    expect(() => toEventBridgeCron('0 0 * * 1/2')).toThrow(/"1\/2" has a step but no range.*1-6\/2/);
    expect(() => toEventBridgeCron('0 0 * * 8')).toThrow(/day-of-week: "8" is not 0-7 or SUN-SAT/);
    expect(() => toEventBridgeCron('0 0 * * 5L')).toThrow(/day-of-week: "5L" is not 0-7 or SUN-SAT/);
    expect(() => toEventBridgeCron('0 0 * * 2#1')).toThrow(/day-of-week: "2#1" is not 0-7 or SUN-SAT/);
    expect(() => toEventBridgeCron('0 0 * * ?')).toThrow(/day-of-week: "\?" is not 0-7 or SUN-SAT/);
    expect(() => toEventBridgeCron('0 0 * * 1-2-3')).toThrow(/day-of-week: bad range/);
    expect(() => toEventBridgeCron('50-10 * * * *')).toThrow(/minute: range "50-10" runs backwards/);
  });

  it('names the bad field of an invalid expression', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/minute: "61" is outside 0-59/);
    expect(() => parseCron('* * *')).toThrow(/expected 5 fields/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/bad step/);
    expect(() => parseCron('0 0 * 13 *')).toThrow(/month/);
    expect(() => parseCron('0 0 * JUN-MAR *')).toThrow(/month: range "JUN-MAR" runs backwards/);
  });

  it('passes the time fields to Container Apps as written, apart from spacing', () => {
    expect(toContainerAppsCron(' 15  * * * * ')).toBe('15 * * * *');
    expect(toContainerAppsCron('*/10 8-18 * JAN-MAR *')).toBe('*/10 8-18 * JAN-MAR *');
  });

  it('round-trips every scheduled catalog job through the EventBridge form', () => {
    for (const job of JOB_CATALOG) {
      if (job.schedule === null) continue;
      expect(fromEventBridgeCron(toEventBridgeCron(job.schedule))).toBe(toContainerAppsCron(job.schedule));
    }
    expect(fromEventBridgeCron(toEventBridgeCron('30 6 * * 1-5'))).toBe('30 6 * * 1-5');
  });

  it('gives both clouds the same weekdays for any list of days, ranges and steps', () => {
    const day = fc.oneof(
      fc.integer({ min: 0, max: 7 }).map(String),
      fc.constantFrom('sun', 'MON', 'Tue', 'WED', 'thu', 'FRI', 'sat'),
    );
    const part = fc.oneof(
      day,
      fc.tuple(day, day).map(([from, to]) => `${from}-${to}`),
      fc.tuple(day, day, fc.integer({ min: 1, max: 7 })).map(([from, to, step]) => `${from}-${to}/${step}`),
      fc.integer({ min: 1, max: 7 }).map((step) => `*/${step}`),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        const expression = `0 6 * * ${parts.join(',')}`;
        const containerApps = toContainerAppsCron(expression);
        expect(fromEventBridgeCron(toEventBridgeCron(expression))).toBe(containerApps);
        // Idempotent, so the spec can store the translated form and the programs translate it again.
        expect(toContainerAppsCron(containerApps)).toBe(containerApps);
        expect(toEventBridgeCron(containerApps)).toBe(toEventBridgeCron(expression));
      }),
    );
  });

  it('lists the times a schedule fires, field by field as cron reads them', () => {
    const day = (hour: number, minute: number) => new Date(Date.UTC(2026, 0, 5, hour, minute));
    const times = (expression: string) =>
      cronFireTimes(expression, day(0, 0), day(24, 0)).map((t) => t.toISOString().slice(11, 16));
    expect(times('5 * * * *')).toHaveLength(24);
    expect(times('*/20 8-9 * JAN *')).toEqual(['08:00', '08:20', '08:40', '09:00', '09:20', '09:40']);
    expect(times('10-20/5,58 23 * * *')).toEqual(['23:10', '23:15', '23:20', '23:58']);
    expect(times('50/5 0 * * *')).toEqual(['00:50', '00:55']);
    // 2026-01-05 is a Monday.
    expect(times('0 6 * * SUN')).toEqual([]);
    expect(times('0 6 * * 1-5')).toEqual(['06:00']);
    expect(times('0 6 5 * *')).toEqual(['06:00']);
    expect(times('0 6 * FEB *')).toEqual([]);
  });

  it('finds the longest gap between runs of a schedule', () => {
    expect(longestGapMinutes('5 * * * *')).toBe(60);
    expect(longestGapMinutes('*/15 * * * *')).toBe(15);
    expect(longestGapMinutes('0,10 * * * *')).toBe(50);
    expect(longestGapMinutes('5 8-17 * * *')).toBe(15 * 60);
    // Friday 06:00 to Monday 06:00.
    expect(longestGapMinutes('0 6 * * 1-5')).toBe(72 * 60);
    expect(longestGapMinutes('0 0 1 * *')).toBeGreaterThanOrEqual(14 * 24 * 60);
  });
});
