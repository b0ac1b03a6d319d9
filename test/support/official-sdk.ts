// The official Alibaba Cloud packages are CommonJS with `exports.default`; how that surfaces through
// ESM interop differs between loaders, so unwrap it once here.
import * as openApiUtilModule from '@alicloud/openapi-util';

type OfficialUtil = {
  getAuthorization(
    request: { method: string; pathname: string; query: Record<string, string>; headers: Record<string, string> },
    algorithm: string,
    hashedPayload: string,
    accessKeyId: string,
    accessKeySecret: string,
  ): string;
  hexEncode(raw: Buffer): string;
  hash(raw: Buffer, algorithm: string): Buffer;
  toForm(params: Record<string, unknown>): string;
  getEncodePath(path: string): string;
};

export function unwrapDefault<T>(mod: unknown): T {
  let m = mod as { default?: unknown };
  while (m && typeof m === 'object' && 'default' in m && m.default && !('getAuthorization' in m) && !('callApi' in (m as object))) {
    m = m.default as { default?: unknown };
  }
  return m as T;
}

export const OpenApiUtil = unwrapDefault<OfficialUtil>(openApiUtilModule);
