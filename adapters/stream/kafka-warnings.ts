/**
 * kafkajs 2.2.4 schedules timers with negative delays, which Node 24 reports as TimeoutNegativeWarning on every
 * run (harmless: Node clamps them to 1 ms; tulios/kafkajs#1751). Every process that uses kafkajs (the adapter, the
 * test services' scripts, the benchmarks) drops exactly that warning, once per process; all others pass.
 */
export function silenceKafkajsTimeoutWarning(): void {
  const marker = Symbol.for('ecomm.kafka.silenceTimeoutNegativeWarning');
  const registry = process as unknown as Record<symbol, boolean>;
  if (registry[marker]) return;
  registry[marker] = true;
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    const name = warning instanceof Error ? warning.name : type;
    if (name === 'TimeoutNegativeWarning') return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
