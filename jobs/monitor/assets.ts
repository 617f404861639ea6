/**
 * The monitor's static files, served from its own origin: one stylesheet, one small script that refreshes the page
 * in place, and an icon. No CDN, no fonts to fetch, no bundler: the monitor works on a machine with no internet.
 * They live in assets/ as real files so Biome lints and formats them; scripts/image/assemble.sh ships that folder
 * with the rest of jobs/.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Asset {
  contentType: string;
  body: string;
}

const ASSETS_DIR = path.join(import.meta.dirname, 'assets');

/** Read when the module loads: a missing file fails the monitor at start, not at its first page view. */
function readAsset(fileName: string, contentType: string): Asset {
  return { contentType, body: readFileSync(path.join(ASSETS_DIR, fileName), 'utf8') };
}

export const ASSETS: Record<string, Asset> = {
  '/assets/monitor.css': readAsset('monitor.css', 'text/css; charset=utf-8'),
  '/assets/monitor.js': readAsset('monitor.js', 'text/javascript; charset=utf-8'),
  '/assets/favicon.svg': readAsset('favicon.svg', 'image/svg+xml'),
};
