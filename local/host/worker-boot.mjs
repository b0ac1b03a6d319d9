// Entry of a function's worker thread (./function-runtime.ts). Plain JS on purpose: a worker does
// not inherit the parent's TypeScript loader (tsx under `npm start`, vite-node under vitest), so it
// registers tsx itself before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./function-worker.ts');
