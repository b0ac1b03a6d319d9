export * from './operations.ts';
export * from './errors.ts';
export * from './credentials.ts';
export * from './limiter.ts';
export * from './retry.ts';
export * from './schemas.ts';
export * from './client.ts';
