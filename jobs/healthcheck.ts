/**
 * The image's HEALTHCHECK. A batch job serves nothing and exits by itself, so it is healthy by definition; a
 * service (`stream-ingest --follow`) records its health port in HEALTH_MARKER and must answer /healthz.
 */
import { existsSync, readFileSync } from 'node:fs';
import { HEALTH_MARKER } from './stream-ingest/service/health.ts';

if (!existsSync(HEALTH_MARKER)) process.exit(0);
const port = readFileSync(HEALTH_MARKER, 'utf8').trim();
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
