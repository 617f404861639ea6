/**
 * Quoting UTF-8 bytes as JSON strings in WebAssembly (json-escape.wat; `npm run build:wasm` compiles it). The raw
 * encoder writes every event value this way: JSON.stringify of the value (read as Latin-1, so never decoded) and
 * the same loop in JavaScript both cost about 3 ns per byte, more than the rest of the line and its compression
 * together; this loop costs about 1 (0.2-0.3 µs per 257-byte event value against 0.7-1.1).
 */
import { readFileSync } from 'node:fs';

// The WebAssembly API's types are in TypeScript's DOM library, which this Node project does not load.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
/** Compiled on first use: most processes that import the raw format only read it. */
let compiled: object | undefined;

/** The module's first KiB holds its tables; the caller's data goes after. */
const RESERVED_BYTES = 1024;
const PAGE_BYTES = 65_536;

export interface JsonQuoter {
  /** Where the caller's data may start in memory. */
  readonly base: number;
  /**
   * The memory as bytes, at least `bytes` long: grown when needed, contents kept. A view taken before a grow is
   * stale after it (the memory's buffer is replaced).
   */
  memory(bytes: number): Buffer;
  /**
   * Writes memory[from, to), valid UTF-8, at `out` as a quoted JSON string, as JSON.stringify writes the decoded
   * text; returns where it ends. The caller leaves room for 6 bytes per input byte plus 2.
   */
  quote(from: number, to: number, out: number): number;
}

/** One instance per thread (each has its own memory). */
export function startJsonQuoter(): JsonQuoter {
  compiled ??= new wasm.Module(readFileSync(new URL('./json-escape.wasm', import.meta.url)));
  const instance = new wasm.Instance(compiled);
  const memory = instance.exports.memory as WasmMemory;
  const quote = instance.exports.quote as (from: number, to: number, out: number) => number;
  let view = Buffer.from(memory.buffer);
  return {
    base: RESERVED_BYTES,
    memory(bytes) {
      if (bytes > view.length) {
        memory.grow(Math.ceil((bytes - view.length) / PAGE_BYTES));
        view = Buffer.from(memory.buffer);
      }
      return view;
    },
    quote,
  };
}
