import { isCamsError } from '../cams/errors.ts';
import type { CamsParams } from '../cams/operations.ts';
import { camsClientFor } from '../http-fn/cams.ts';
import type { ServiceInput } from '../http-fn/http-function.ts';
import type { ServiceResult } from '../http-fn/middlewares.ts';

// One service per CAMS operation: validated params in, CAMS Data out, CAMS's RequestId kept.

export async function bindWaba(input: ServiceInput<CamsParams['ChatappBindWaba']>): Promise<ServiceResult> {
  const { data, requestId } = await camsClientFor(input).bindWaba(input.params);
  return { data, camsRequestId: requestId };
}

export async function queryWaba(input: ServiceInput<CamsParams['QueryChatappBindWaba']>): Promise<ServiceResult> {
  const { data, requestId } = await camsClientFor(input).queryBindWaba(input.params);
  return { data, camsRequestId: requestId };
}

export async function addPhoneNumber(input: ServiceInput<CamsParams['AddChatappPhoneNumber']>): Promise<ServiceResult> {
  const data = { CustSpaceId: input.params.CustSpaceId, Cc: input.params.Cc, PhoneNumber: input.params.PhoneNumber };
  try {
    const { requestId } = await camsClientFor(input).addPhoneNumber(input.params);
    return { data, camsRequestId: requestId };
  } catch (e) {
    // Phone.Exists right after our own attempt went out unanswered: that attempt added it.
    if (isCamsError(e) && e.Code === 'Phone.Exists' && e.afterAmbiguousAttempt) return { data, camsRequestId: e.RequestId };
    throw e;
  }
}

export async function getHealthStatus(input: ServiceInput<CamsParams['GetWhatsappHealthStatus']>): Promise<ServiceResult> {
  const { data, requestId } = await camsClientFor(input).getHealthStatus(input.params);
  return { data, camsRequestId: requestId };
}
