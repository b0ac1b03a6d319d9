import { isCamsError } from '../cams/errors.ts';
import type { CamsParams } from '../cams/operations.ts';
import { camsClientFor } from '../http-fn/cams.ts';
import type { ServiceInput } from '../http-fn/http-function.ts';
import type { ServiceResult } from '../http-fn/middlewares.ts';

// One service per CAMS operation: validated params in (optional ones passed through as given), CAMS's
// reply body out, relayed as CAMS sent it.

export async function bindWaba(input: ServiceInput<CamsParams['ChatappBindWaba']>): Promise<ServiceResult> {
  const { body } = await camsClientFor(input).bindWaba(input.params);
  return { cams: body };
}

export async function queryWaba(input: ServiceInput<CamsParams['QueryChatappBindWaba']>): Promise<ServiceResult> {
  const { body } = await camsClientFor(input).queryBindWaba(input.params);
  return { cams: body };
}

export async function addPhoneNumber(input: ServiceInput<CamsParams['AddChatappPhoneNumber']>): Promise<ServiceResult> {
  try {
    const { body } = await camsClientFor(input).addPhoneNumber(input.params);
    return { cams: body };
  } catch (e) {
    // Phone.Exists right after our own attempt went out unanswered: that attempt added it. Its reply
    // was lost, so we answer with what CAMS answers to an add (no Data), under this reply's RequestId.
    if (isCamsError(e) && e.Code === 'Phone.Exists' && e.afterAmbiguousAttempt) {
      const body = { RequestId: e.RequestId ?? '', Code: 'OK', Message: 'None', AccessDeniedDetail: 'None', Success: true };
      return { cams: body };
    }
    throw e;
  }
}

export async function getHealthStatus(input: ServiceInput<CamsParams['GetWhatsappHealthStatus']>): Promise<ServiceResult> {
  const { body } = await camsClientFor(input).getHealthStatus(input.params);
  return { cams: body };
}
