import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import { fromEventBridgeCron, parseCron, toContainerAppsCron, toEventBridgeCron } from './cron.ts';

describe('cron translation', () => {
  it('puts ? in day-of-week when only the day of month is free', () => {
    expect(toEventBridgeCron('5 * * * *')).toBe('cron(5 * * * ? *)');
    expect(toEventBridgeCron('0 2 1 * *')).toBe('cron(0 2 1 * ? *)');
  });

  it('puts ? in day-of-month and shifts weekdays to count from Sunday = 1', () => {
    expect(toEventBridgeCron('30 6 * * 1-5')).toBe('cron(30 6 ? * 2-6 *)');
    expect(toEventBridgeCron('0 0 * * 0')).toBe('cron(0 0 ? * 1 *)');
    expect(toEventBridgeCron('0 0 * * 7')).toBe('cron(0 0 ? * 1 *)');
    expect(toEventBridgeCron('0 0 * * mon,fri')).toBe('cron(0 0 ? * MON,FRI *)');
  });

  it('rejects schedules restricted on both day fields, which EventBridge cannot express', () => {
    expect(() => toEventBridgeCron('0 0 1 * 1')).toThrow(/both a day of month and a day of week/);
  });

  it('names the bad field of an invalid expression', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/minute: "61" is outside 0-59/);
    expect(() => parseCron('* * *')).toThrow(/expected 5 fields/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/bad step/);
    expect(() => parseCron('0 0 * 13 *')).toThrow(/month/);
  });

  it('passes 5-field cron to Container Apps unchanged apart from spacing', () => {
    expect(toContainerAppsCron(' 15  * * * * ')).toBe('15 * * * *');
  });

  it('round-trips every scheduled catalog job through the EventBridge form', () => {
    for (const job of JOB_CATALOG) {
      if (job.schedule === null) continue;
      expect(fromEventBridgeCron(toEventBridgeCron(job.schedule))).toBe(toContainerAppsCron(job.schedule));
    }
    expect(fromEventBridgeCron(toEventBridgeCron('30 6 * * 1-5'))).toBe('30 6 * * 1-5');
  });
});
