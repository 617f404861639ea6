/** CSV text exactly as PostgreSQL's COPY writes and reads it: shared by every backend and the jobs. */

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field as PostgreSQL's COPY reads it: null is an unquoted empty field, an empty string is `""`, anything
 * with a comma, quote or line break is quoted with quotes doubled.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  if (value === '') return '""';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvLine(values: (string | null)[]): string {
  let line = '';
  for (let index = 0; index < values.length; index += 1) {
    if (index > 0) line += ',';
    line += csvField(values[index] ?? null);
  }
  return `${line}\n`;
}

/**
 * One CSV record exactly as PostgreSQL's COPY ... CSV prints it: csvLine's quoting (NULL empty, empty string `""`,
 * quotes around commas, quotes and line breaks), plus COPY's one extra rule: a lone `\.` in a one-column row is
 * quoted, since unquoted it would read back as the end-of-data marker.
 */
export function postgresCsvRecord(values: (string | null)[]): string {
  if (values.length === 1 && values[0] === '\\.') return '"\\."\n';
  return csvLine(values);
}
