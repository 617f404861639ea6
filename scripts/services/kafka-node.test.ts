import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION_HOURS, kafkaProperties, retentionHoursFrom } from './kafka-node.ts';

describe('the test broker settings', () => {
  it('keeps topics the recovery window by default, or ECOMM_KAFKA_RETENTION_HOURS, and refuses a bad value by name', () => {
    const base = { port: 9092, controllerPort: 9093, dataDir: '/tmp/kafka' };
    expect(kafkaProperties(base)['log.retention.hours']).toBe(String(DEFAULT_RETENTION_HOURS));
    expect(DEFAULT_RETENTION_HOURS).toBe(168);
    expect(
      kafkaProperties({ ...base, retentionHours: retentionHoursFrom('720') })['log.retention.hours'],
    ).toBe('720');
    expect(retentionHoursFrom(undefined)).toBe(168);
    expect(retentionHoursFrom(' ')).toBe(168);
    for (const bad of ['0', '-3', '1.5', 'week'])
      expect(() => retentionHoursFrom(bad)).toThrow(
        `ECOMM_KAFKA_RETENTION_HOURS must be a whole number of hours, at least 1 (got "${bad}")`,
      );
  });
});
