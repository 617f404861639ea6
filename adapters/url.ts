import { redactUrl } from './redact.ts';

/** The scheme of an adapter URL without its colon, or undefined when the text is not URL-shaped. */
export function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
}

export class UnsupportedUrlError extends Error {
  constructor(setting: string, url: string, supported: string[]) {
    super(
      `${setting}: unsupported URL "${redactUrl(url)}"; expected one of ${supported.map((s) => `${s}://`).join(', ')}`,
    );
    this.name = 'UnsupportedUrlError';
  }
}

export function pickFactory<Factory>(
  setting: string,
  url: string,
  factories: Record<string, Factory>,
): Factory {
  const scheme = schemeOf(url);
  const factory = scheme === undefined ? undefined : factories[scheme];
  if (factory === undefined) throw new UnsupportedUrlError(setting, url, Object.keys(factories));
  return factory;
}

/** A whole-number URL parameter within [min, max], `fallback` when absent; the error names the setting. */
export function integerParameter(
  setting: string,
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
) {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${setting}: ${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return value;
}
