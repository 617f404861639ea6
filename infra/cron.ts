/**
 * Cron translation. The job catalog states schedules as 5-field Unix cron in UTC
 * (`minute hour day-of-month month day-of-week`), where days of the week are 0-7 (0 and 7 both
 * Sunday) or SUN-SAT. EventBridge Scheduler wants `cron(minutes hours day-of-month month
 * day-of-week year)` with days counted 1-7 from Sunday and `?` in one of the two day fields.
 * Container Apps documents only the standard form, so it gets the day of week as plain 0-6 numbers.
 * Both forms are rendered from the set of weekdays the expression means, so a range such as `1-7`
 * or `FRI-MON` means the same days on both clouds instead of being renumbered bound by bound.
 */

const FIELD_RANGES = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
] as const;

type FieldRange = (typeof FIELD_RANGES)[number];

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const DAYS_IN_WEEK = 7;

export class CronError extends Error {
  constructor(expression: string, reason: string) {
    super(`cron "${expression}": ${reason}`);
    this.name = 'CronError';
  }
}

/** A valid schedule: the time fields as written, the days of the week as Sunday = 0 numbers. */
export interface CronSchedule {
  minute: string;
  hour: string;
  dayOfMonth: string;
  month: string;
  /** Sorted days 0-6 (Sunday = 0), or null when every day of the week qualifies. */
  daysOfWeek: number[] | null;
}

/** Validates a Unix cron expression; throws CronError naming the field it cannot read or translate. */
export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(expression, `expected 5 fields, got ${fields.length}`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields as [string, string, string, string, string];
  FIELD_RANGES.forEach((range, index) => {
    for (const part of (fields[index] as string).split(',')) checkPart(expression, part, range);
  });
  // Unix cron runs on either day field when both are restricted; EventBridge can only use one.
  if (dayOfMonth !== '*' && dayOfWeek !== '*') {
    throw new CronError(
      expression,
      'restricts both day-of-month and day-of-week (Unix cron runs on either, EventBridge cannot); restrict one',
    );
  }
  return { minute, hour, dayOfMonth, month, daysOfWeek: parseDaysOfWeek(expression, dayOfWeek) };
}

function checkPart(expression: string, part: string, range: FieldRange): void {
  const [base = '', step, extra] = part.split('/');
  if (extra !== undefined || (step !== undefined && !/^[1-9][0-9]*$/.test(step))) {
    throw new CronError(expression, `${range.name}: bad step in "${part}"`);
  }
  if (base === '*') return;
  const bounds = base.split('-');
  if (bounds.length > 2) throw new CronError(expression, `${range.name}: bad range "${base}"`);
  const values = bounds.map((bound) => {
    const value = fieldValue(bound, range.name === 'month' ? MONTH_NAMES : [], 1);
    if (value === undefined || value < range.min || value > range.max) {
      throw new CronError(expression, `${range.name}: "${bound}" is outside ${range.min}-${range.max}`);
    }
    return value;
  });
  const [from = 0, to = from] = values;
  if (from > to) throw new CronError(expression, `${range.name}: range "${base}" runs backwards`);
}

/** A number, or a name's position in `names` counted from `first`; undefined when it is neither. */
function fieldValue(token: string, names: readonly string[], first: number): number | undefined {
  if (/^[0-9]+$/.test(token)) return Number(token);
  const index = names.indexOf(token.toUpperCase());
  return index < 0 ? undefined : index + first;
}

/** The weekdays a Unix day-of-week field names, or null for all seven. */
function parseDaysOfWeek(expression: string, field: string): number[] | null {
  if (field === '*') return null;
  const days = new Set(field.split(',').flatMap((part) => daysOfPart(expression, part)));
  return days.size === DAYS_IN_WEEK ? null : [...days].sort((a, b) => a - b);
}

/** One list item of a day-of-week field: `N`, `A-B` (wrapping past Saturday), `*`, each with an optional `/step`. */
function daysOfPart(expression: string, part: string): number[] {
  const [base = '', step, extra] = part.split('/');
  if (extra !== undefined || (step !== undefined && !/^[1-9][0-9]*$/.test(step))) {
    throw new CronError(expression, `day-of-week: bad step in "${part}"`);
  }
  const bounds = base === '*' ? ['0', '6'] : base.split('-');
  if (bounds.length > 2) throw new CronError(expression, `day-of-week: bad range "${base}"`);
  if (step !== undefined && bounds.length === 1) {
    throw new CronError(
      expression,
      `day-of-week: "${part}" has a step but no range; cron implementations differ on where it ends, write it as a range (e.g. ${base}-6/${step})`,
    );
  }
  const [from = 0, to = from] = bounds.map((bound) => dayNumber(expression, bound));
  return everyNth(daysFrom(from, to), Number(step ?? 1));
}

function dayNumber(expression: string, token: string): number {
  const value = fieldValue(token, DAY_NAMES, 0);
  if (value === undefined || value > DAYS_IN_WEEK) {
    throw new CronError(expression, `day-of-week: "${token}" is not 0-7 or SUN-SAT`);
  }
  return value;
}

/** Days from `from` to `to` inclusive (7 is Sunday again), continuing past Saturday when `to` comes first. */
function daysFrom(from: number, to: number): number[] {
  const length = from <= to ? to - from + 1 : DAYS_IN_WEEK - from + to + 1;
  return Array.from({ length }, (_, offset) => (from + offset) % DAYS_IN_WEEK);
}

function everyNth<T>(items: T[], step: number): T[] {
  return items.filter((_, index) => index % step === 0);
}

/**
 * Sorted day numbers as a cron list, runs of three or more as ranges: `1-5`, `0,6`. `first` is the
 * number Sunday gets (0 in Unix cron, 1 in EventBridge).
 */
function renderDays(days: readonly number[], first: 0 | 1): string {
  const numbers = days.map((day) => day + first).sort((a, b) => a - b);
  const runs: number[][] = [];
  for (const value of numbers) {
    const run = runs.at(-1);
    if (run !== undefined && run.at(-1) === value - 1) run.push(value);
    else runs.push([value]);
  }
  return runs.map((run) => (run.length >= 3 ? `${run[0]}-${run.at(-1)}` : run.join(','))).join(',');
}

/** The form Container Apps Jobs take: the time fields as written, the day of week as 0-6 numbers. */
export function toContainerAppsCron(expression: string): string {
  const cron = parseCron(expression);
  const dayOfWeek = cron.daysOfWeek === null ? '*' : renderDays(cron.daysOfWeek, 0);
  return [cron.minute, cron.hour, cron.dayOfMonth, cron.month, dayOfWeek].join(' ');
}

/** `5 * * * *` -> `cron(5 * * * ? *)`; `0 6 * * 1-5` -> `cron(0 6 ? * 2-6 *)`. */
export function toEventBridgeCron(expression: string): string {
  const cron = parseCron(expression);
  const [dayOfMonth, dayOfWeek] =
    cron.daysOfWeek === null ? [cron.dayOfMonth, '?'] : ['?', renderDays(cron.daysOfWeek, 1)];
  return `cron(${cron.minute} ${cron.hour} ${dayOfMonth} ${cron.month} ${dayOfWeek} *)`;
}

/** The inverse of toEventBridgeCron, in toContainerAppsCron's form, for comparing what the two clouds were given. */
export function fromEventBridgeCron(expression: string): string {
  const match = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = match?.[1]?.split(/\s+/);
  if (fields?.length !== 6) throw new CronError(expression, 'not an EventBridge cron(...) expression');
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const dayOfWeek = dow === '?' || dow === '*' ? '*' : renderDays(eventBridgeDays(expression, dow), 0);
  return [minute, hour, dom === '?' ? '*' : dom, month, dayOfWeek].join(' ');
}

/** EventBridge day-of-week items (1-7 from Sunday, or SUN-SAT) as Sunday = 0 days. */
function eventBridgeDays(expression: string, field: string): number[] {
  const days = field.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map((bound) => fieldValue(bound, DAY_NAMES, 1));
    if (from === undefined || to === undefined || from < 1 || to > DAYS_IN_WEEK || from > to) {
      throw new CronError(expression, `day-of-week: cannot read "${part}"`);
    }
    return daysFrom(from - 1, to - 1);
  });
  return [...new Set(days)];
}

const MINUTE_MS = 60_000;

/** The values one time field (minute, hour, day of month, month) names, e.g. `*\/15` -> 0, 15, 30, 45. */
function fieldValues(field: string, range: FieldRange): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [base = '', step] = part.split('/');
    const [from, to] = partBounds(base, step !== undefined, range);
    for (let value = from; value <= to; value += Number(step ?? 1)) values.add(value);
  }
  return values;
}

/** First and last value of a list item's base: `*` the whole field, `5-20` to 20, `5/15` to the field's end, `5` alone. */
function partBounds(base: string, stepped: boolean, range: FieldRange): [number, number] {
  if (base === '*') return [range.min, range.max];
  const names = range.name === 'month' ? MONTH_NAMES : [];
  const [low = range.min, high] = base.split('-').map((bound) => fieldValue(bound, names, 1) as number);
  return [low, high ?? (stepped ? range.max : low)];
}

/** Whether a UTC minute matches the schedule: `expression` as the catalog writes it (parseCron accepts it). */
export function cronMatcher(expression: string): (at: Date) => boolean {
  const cron = parseCron(expression);
  const [minutes, hours, days, months] = [cron.minute, cron.hour, cron.dayOfMonth, cron.month].map(
    (field, i) => fieldValues(field, FIELD_RANGES[i] as FieldRange),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>];
  const weekdays = cron.daysOfWeek === null ? null : new Set(cron.daysOfWeek);
  return (at) =>
    minutes.has(at.getUTCMinutes()) &&
    hours.has(at.getUTCHours()) &&
    days.has(at.getUTCDate()) &&
    months.has(at.getUTCMonth() + 1) &&
    (weekdays === null || weekdays.has(at.getUTCDay()));
}

/** Every time in [from, to) the schedule starts a run, in order (minute precision, as cron has). */
export function cronFireTimes(expression: string, from: Date, to: Date): Date[] {
  const matches = cronMatcher(expression);
  const times: Date[] = [];
  const first = Math.ceil(from.getTime() / MINUTE_MS) * MINUTE_MS;
  for (let at = first; at < to.getTime(); at += MINUTE_MS) {
    const date = new Date(at);
    if (matches(date)) times.push(date);
  }
  return times;
}

/**
 * The longest the schedule can leave between two runs, in minutes, looking at `horizonDays` from 2024-01-01 (a
 * leap year's start, on a Monday) on: with a two-week horizon every weekly pattern repeats; a schedule that runs
 * less often than that is reported as at least the horizon, far past any freshness budget.
 */
export function longestGapMinutes(expression: string, horizonDays = 14): number {
  const start = Date.UTC(2024, 0, 1);
  const end = start + horizonDays * 24 * 60 * MINUTE_MS;
  const times = cronFireTimes(expression, new Date(start), new Date(end)).map((t) => t.getTime());
  const first = times[0];
  if (first === undefined) return horizonDays * 24 * 60;
  // The gap that wraps around the horizon: from the last run to the first one a horizon later.
  const gaps = [
    ...times.slice(1).map((t, i) => t - (times[i] as number)),
    first + (end - start) - (times.at(-1) as number),
  ];
  return Math.max(...gaps) / MINUTE_MS;
}
