export * from './canonical.ts';
export * from './sign.ts';
export * from './verify.ts';
export * from './nonce-cache.ts';
export * from './store-nonces.ts';
