/** The store as core code sees it: the port, the update helper and openStore. Adapters stay hidden. */
export * from './port.ts';
export { DEFAULT_STORE_URL, openStore, parseStoreUrl, type OpenStoreOptions, type ParsedStoreUrl } from './open-store.ts';
export { decideSlot } from './slots.ts';
export { openSharedStore } from './shared-store.ts';
