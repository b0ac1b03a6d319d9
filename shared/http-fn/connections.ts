import type { HttpFunctionConfig } from '../config/http-function.ts';
import { openSharedStore } from '../store/index.ts';
import type { Middleware } from './middlewares.ts';

/**
 * Before anything else: opens the connections the invocation will use, so their connects and TLS
 * handshakes run beside decoding and the caller's signature instead of after them. The store's (at
 * STORE_URL) is the one the nonce and the CAMS budget then use. `preconnect` opens what the service
 * calls (the CAMS functions: preconnectCams in ./cams.ts, so the functions that never call CAMS
 * neither open its connection nor bundle its client). A setting that cannot be read, or a store
 * that cannot be reached, is left to what uses it.
 */
export function openConnections(opts: { config: () => HttpFunctionConfig; preconnect?: ((config: HttpFunctionConfig) => void) | undefined }): Middleware {
  return {
    before: () => {
      try {
        const config = opts.config();
        if (config.sharedStoreUrl !== undefined) {
          void openSharedStore(config.sharedStoreUrl).then(
            (store) => store.connect?.(),
            () => undefined,
          );
        }
        opts.preconnect?.(config);
      } catch {
        // The nonce registry, the budget and the service read the same config and report it.
      }
    },
  };
}
