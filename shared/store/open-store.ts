/**
 * Opens the store that STORE_URL names. Core code imports this and the port only, never an adapter:
 *   file:./.data, file:.data, file:/abs/dir, file:///abs/dir   embedded file store (default file:./.data)
 *   redis://[user:pass@]host:port[/db][?namespace=prefix]     redis (rediss:// for TLS)
 *   memory:                                                   in-process, for tests
 * Adapters are loaded with dynamic import, so a function loads only the one its URL names.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileStoreOptions } from './file-store.ts';
import { StoreError, type Store } from './port.ts';
import type { RedisStoreOptions } from './redis-store.ts';
import { parseRedisUrl, type RedisUrl } from './redis-url.ts';

export const DEFAULT_STORE_URL = 'file:./.data';

export interface OpenStoreOptions {
  file?: FileStoreOptions;
  redis?: RedisStoreOptions;
}

export type ParsedStoreUrl =
  | { kind: 'file'; dir: string }
  | { kind: 'redis'; url: string; redis: RedisUrl }
  | { kind: 'memory' };

const USAGE = 'expected file:<dir> (e.g. file:./.data), redis://host:port[/db], rediss://... or memory:';

/** Parse a STORE_URL without opening anything. Throws StoreError CONFIG naming STORE_URL. */
export function parseStoreUrl(url: string, cwd = process.cwd()): ParsedStoreUrl {
  if (typeof url !== 'string' || url.trim() === '') throw new StoreError('CONFIG', `STORE_URL is empty; ${USAGE}`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'file': {
      const rest = url.slice('file:'.length);
      let dir: string;
      if (rest.startsWith('//')) {
        try {
          dir = fileURLToPath(new URL(url));
        } catch (e) {
          throw new StoreError('CONFIG', `STORE_URL ${JSON.stringify(url)} is not a usable file URL (${(e as Error).message}); ${USAGE}`, { cause: e });
        }
      } else {
        if (rest === '') throw new StoreError('CONFIG', `STORE_URL "file:" names no directory; ${USAGE}`);
        dir = isAbsolute(rest) ? rest : resolve(cwd, rest);
      }
      return { kind: 'file', dir };
    }
    case 'redis':
    case 'rediss': {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch (e) {
        throw new StoreError('CONFIG', `STORE_URL is not a valid ${scheme}:// URL (${(e as Error).message}); ${USAGE}`, { cause: e });
      }
      if (!parsed.hostname) throw new StoreError('CONFIG', `STORE_URL ${scheme}:// URL has no host; ${USAGE}`);
      // Its database and parameters too, read once: the store connects with what this returns.
      return { kind: 'redis', url, redis: parseRedisUrl(url) };
    }
    case 'memory':
      return { kind: 'memory' };
    default:
      // Do not echo the whole value: it may carry a password.
      throw new StoreError(
        'CONFIG',
        scheme === undefined
          ? `STORE_URL has no scheme; ${USAGE}`
          : `STORE_URL has unsupported scheme "${scheme}:"; ${USAGE}`,
      );
  }
}

export async function openStore(url?: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const target = parseStoreUrl(url ?? (process.env.STORE_URL || DEFAULT_STORE_URL));
  switch (target.kind) {
    case 'file': {
      const { FileStore } = await import('./file-store.ts');
      return FileStore.open(target.dir, opts.file);
    }
    case 'redis': {
      const { openRedisStore } = await import('./redis-store.ts');
      return openRedisStore(target.redis, opts.redis);
    }
    case 'memory': {
      const { MemoryStore } = await import('./memory-store.ts');
      return new MemoryStore();
    }
  }
}
