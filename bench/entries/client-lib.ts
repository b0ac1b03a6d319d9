/**
 * middleware-overhead: our CAMS client as its own bundle (same esbuild options as a function), so
 * the bare-client side of the comparison runs bundled, minified code just like the function does,
 * with its own module instances (its own process-wide limiter registry, its own keep-alive agent).
 */
export { CamsClient } from '../../shared/cams/client.ts';
export { CamsBudget } from '../../shared/cams/budget/budget.ts';
