import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redactUrl } from '../redact.ts';
import { type ObjectBody, type ObjectInfo, ObjectNotFoundError, type ObjectStore } from './object-store.ts';

/** A lake in a local folder (`file://./data/lake`): the embedded default and the shape of every other store. */
export function openLocalStore(url: string): ObjectStore {
  const root = localStoreRoot(url);
  const pathOf = (key: string) => {
    const path = resolve(root, key);
    if (!path.startsWith(root + sep)) throw new Error(`object key escapes the lake root: ${key}`);
    return path;
  };
  const infoOf = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      const stats = await stat(pathOf(key));
      return stats.isFile() ? { key, size: stats.size, lastModified: stats.mtime } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  return {
    url,
    async put(key: string, body: ObjectBody) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Write beside, then rename: a reader sees the old object or the new one, never half of it.
      const temporary = `${path}.${randomUUID()}.partial`;
      try {
        await pipeline(toReadable(body), createWriteStream(temporary));
        await rename(temporary, path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      const info = await infoOf(key);
      if (!info) throw new Error(`object vanished right after it was written: ${key}`);
      return info;
    },
    async get(key: string) {
      const info = await infoOf(key);
      if (!info) throw new ObjectNotFoundError(url, key);
      return createReadStream(pathOf(key));
    },
    head: infoOf,
    locate: pathOf,
    async *list(prefix: string) {
      const keys: string[] = [];
      await collectKeys(root, root, keys);
      keys.sort();
      for (const key of keys) {
        if (!key.startsWith(prefix)) continue;
        const info = await infoOf(key);
        if (info) yield info;
      }
    },
    async delete(key: string) {
      await rm(pathOf(key), { force: true });
    },
    async close() {},
  };
}

async function collectKeys(root: string, folder: string, keys: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) await collectKeys(root, path, keys);
    else if (entry.isFile() && !entry.name.endsWith('.partial'))
      keys.push(relative(root, path).split(sep).join('/'));
  }
}

/** `file://./relative/folder` or `file:///absolute/folder`. */
export function localStoreRoot(url: string): string {
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  if (path === '') throw new Error(`LAKE_URL ${redactUrl(url)} names no folder`);
  return resolve(path);
}

export function toReadable(body: ObjectBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === 'string' || body instanceof Uint8Array) return Readable.from([Buffer.from(body)]);
  return Readable.from(body);
}
