/**
 * `npm run build:wasm`: compiles the WebAssembly text sources in jobs/ to the .wasm files beside them (committed:
 * the runtime needs no compiler). A test compiles them again and fails when a .wasm is not its source's build.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import wabtModule from 'wabt';

export const WASM_SOURCES = ['jobs/lake/json-escape.wat'];

const root = new URL('../../', import.meta.url);

/** The binary of one .wat source (relative to the repository root). */
export async function compileWat(source: string): Promise<Uint8Array> {
  const wabt = await wabtModule();
  const parsed = wabt.parseWat(source, readFileSync(new URL(source, root), 'utf8'));
  try {
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

if (import.meta.main) {
  for (const source of WASM_SOURCES) {
    const target = source.replace(/\.wat$/, '.wasm');
    const binary = await compileWat(source);
    writeFileSync(new URL(target, root), binary);
    process.stdout.write(`${source} -> ${target} (${binary.length} bytes)\n`);
  }
}
