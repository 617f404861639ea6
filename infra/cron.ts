/**
 * Cron translation. The job catalog states schedules as 5-field Unix cron in UTC
 * (`minute hour day-of-month month day-of-week`). Azure Container Apps Jobs take that form as is;
 * EventBridge Scheduler wants `cron(minutes hours day-of-month month day-of-week year)` where one of
 * the two day fields must be `?` and days of the week count from 1 (Sunday) instead of 0.
 */

const FIELD_RANGES = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
] as const;

const NAMED_VALUES: Record<string, readonly string[]> = {
  month: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  'day-of-week': ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
};

export class CronError extends Error {
  constructor(expression: string, reason: string) {
    super(`cron "${expression}": ${reason}`);
    this.name = 'CronError';
  }
}

/** The five fields of a valid Unix cron expression; throws CronError naming the bad field. */
export function parseCron(expression: string): string[] {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(expression, `expected 5 fields, got ${fields.length}`);
  fields.forEach((field, index) => {
    const range = FIELD_RANGES[index];
    if (range === undefined) return;
    for (const part of field.split(',')) checkPart(expression, part, range);
  });
  return fields;
}

function checkPart(expression: string, part: string, range: (typeof FIELD_RANGES)[number]): void {
  const [base = '', step] = part.split('/');
  if (step !== undefined && !/^[1-9][0-9]*$/.test(step)) {
    throw new CronError(expression, `${range.name}: bad step "${step}"`);
  }
  if (base === '*') return;
  const bounds = base.split('-');
  if (bounds.length > 2) throw new CronError(expression, `${range.name}: bad range "${base}"`);
  for (const bound of bounds) {
    const value = resolved(bound, range.name);
    if (value === undefined || value < range.min || value > range.max) {
      throw new CronError(expression, `${range.name}: "${bound}" is outside ${range.min}-${range.max}`);
    }
  }
}

function resolved(token: string, field: string): number | undefined {
  if (/^[0-9]+$/.test(token)) return Number(token);
  const names = NAMED_VALUES[field];
  const index = names?.indexOf(token.toUpperCase()) ?? -1;
  if (index < 0) return undefined;
  return field === 'month' ? index + 1 : index;
}

/** A validated 5-field expression, normalised to single spaces: what Container Apps Jobs take. */
export function toContainerAppsCron(expression: string): string {
  return parseCron(expression).join(' ');
}

/**
 * `5 * * * *` -> `cron(5 * * * ? *)`. Unix cron ORs the two day fields when both are restricted;
 * EventBridge cannot express that, so such schedules are rejected rather than silently changed.
 */
export function toEventBridgeCron(expression: string): string {
  const [minute, hour, dayOfMonth, month, dayOfWeek] = parseCron(expression) as [
    string,
    string,
    string,
    string,
    string,
  ];
  let dom = dayOfMonth;
  let dow: string;
  if (dayOfWeek === '*') {
    dow = '?';
  } else if (dayOfMonth === '*') {
    dom = '?';
    dow = toEventBridgeDayOfWeek(expression, dayOfWeek);
  } else {
    throw new CronError(expression, 'EventBridge cannot schedule on both a day of month and a day of week');
  }
  return `cron(${minute} ${hour} ${dom} ${month} ${dow} *)`;
}

function toEventBridgeDayOfWeek(expression: string, field: string): string {
  return field
    .split(',')
    .map((part) => {
      if (part.includes('/')) throw new CronError(expression, 'steps in day-of-week are not supported');
      return part
        .split('-')
        .map((bound) => (/^[0-9]$/.test(bound) ? String((Number(bound) % 7) + 1) : bound.toUpperCase()))
        .join('-');
    })
    .join(',');
}

/** The inverse of toEventBridgeCron, for comparing what the two clouds were given. */
export function fromEventBridgeCron(expression: string): string {
  const match = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = match?.[1]?.split(/\s+/);
  if (fields?.length !== 6) throw new CronError(expression, 'not an EventBridge cron(...) expression');
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const dayOfWeek =
    dow === '?'
      ? '*'
      : dow
          .split(',')
          .map((part) =>
            part
              .split('-')
              .map((bound) => (/^[1-7]$/.test(bound) ? String(Number(bound) - 1) : bound))
              .join('-'),
          )
          .join(',');
  return [minute, hour, dom === '?' ? '*' : dom, month, dayOfWeek].join(' ');
}
