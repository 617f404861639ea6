/**
 * The monitor answers only requests addressed to a host name it knows. A page on another site can make a browser
 * send requests to the monitor's address under a name the attacker controls (DNS rebinding) and read the answers
 * as its own; the Host header still carries that name, so refusing unknown names closes the hole.
 */

/** Names a monitor always answers to: the loopback names a person on the machine itself types. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

/** A host name or address as the allow-list holds it: no port, lower case, IPv6 in brackets, no trailing dot. */
export function normaliseHost(host: string): string {
  const lower = host.trim().toLowerCase().replace(/\.$/, '');
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/** `name`, `name:port`, `[v6]` or `[v6]:port` of a Host header, without its port; undefined when malformed. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::\d{1,5})?$/i.exec(header.trim());
  return match?.[1] === undefined ? undefined : normaliseHost(match[1]);
}

/**
 * What the monitor answers to: the loopback names, the address it is bound to (unless that is every interface,
 * which names no host) and the names the deployment gives it (MONITOR_ALLOWED_HOSTS).
 */
export function allowedHostsFor(boundHost: string, extra: readonly string[] = []): Set<string> {
  const bound = normaliseHost(boundHost);
  const everyInterface = bound === '0.0.0.0' || bound === '[::]';
  return new Set([...LOOPBACK_HOSTS, ...(everyInterface ? [] : [bound]), ...extra.map(normaliseHost)]);
}
