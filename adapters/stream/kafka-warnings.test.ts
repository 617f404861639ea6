import { describe, expect, it } from 'vitest';
import { silenceKafkajsTimeoutWarning } from './kafka-warnings.ts';

describe('silenceKafkajsTimeoutWarning', () => {
  it("drops kafkajs's TimeoutNegativeWarning and lets every other warning through, however often it is called", async () => {
    const heard: string[] = [];
    const listener = (warning: Error) => heard.push(`${warning.name}: ${warning.message}`);
    process.on('warning', listener);
    try {
      silenceKafkajsTimeoutWarning();
      silenceKafkajsTimeoutWarning();
      // What Node itself emits for setTimeout(fn, -5), by both of emitWarning's signatures.
      const negative = new Error('-5 is a negative number.');
      negative.name = 'TimeoutNegativeWarning';
      process.emitWarning(negative);
      process.emitWarning('-6 is a negative number.', 'TimeoutNegativeWarning');
      process.emitWarning('-7 is a negative number.', { type: 'TimeoutNegativeWarning' });
      setTimeout(() => {}, -1).unref();
      process.emitWarning('kept', 'DeprecationWarning');
      process.emitWarning('also kept', { type: 'ExperimentalWarning' });
      // Warnings reach listeners on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(heard).toEqual(['DeprecationWarning: kept', 'ExperimentalWarning: also kept']);
    } finally {
      process.off('warning', listener);
    }
  });
});
