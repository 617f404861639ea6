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
