import { openStore } from './open-store.ts';
import type { Store } from './port.ts';

const opened = new Map<string, Promise<Store>>();

/**
 * One store per STORE_URL for the whole instance (the nonce registry and the CAMS budget of an HTTP
 * function share a connection). A failed open is forgotten, so the next call tries again.
 */
export function openSharedStore(url: string): Promise<Store> {
  let p = opened.get(url);
  if (!p) {
    p = openStore(url);
    opened.set(url, p);
    p.catch(() => opened.delete(url));
  }
  return p;
}
