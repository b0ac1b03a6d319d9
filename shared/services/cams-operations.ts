import { isCamsError } from '../cams/errors.ts';
import { earlierAttemptMayHaveApplied, whoseExistingNumber } from '../cams/phone-exists.ts';
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
  const cams = camsClientFor(input);
  try {
    const { body } = await cams.addPhoneNumber(input.params);
    return { cams: body };
  } catch (e) {
    // Phone.Exists with nothing of ours in between is the caller's conflict, relayed as CAMS said it.
    if (!isCamsError(e) || e.Code !== 'Phone.Exists' || !earlierAttemptMayHaveApplied(e)) throw e;
    // After an attempt of this call that went unanswered or was answered 5xx, the space's own list
    // says whose the number is: in it, that attempt added it; not in it, CAMS's Phone.Exists stands.
    // A role that cannot list (no cams:QueryChatappPhoneNumbers) leaves the attempt to go by: the
    // caller is answered, and the invocation's log line tells the operator, at warn.
    let warning: ServiceResult['warning'];
    const owner = await whoseExistingNumber(cams, input.params, true, (r) => (warning = { msg: String(r['msg']), code: String(r['code']) }));
    if (!owner.ours) throw e;
    // The attempt's reply was lost: we answer with what CAMS answers to an add (no Data), under this
    // reply's RequestId when CAMS gave one (none: the reply has no CamsRequestId).
    const body = { RequestId: e.RequestId, Code: 'OK', Message: 'None', AccessDeniedDetail: 'None', Success: true };
    return { cams: body, ...(warning ? { warning } : {}) };
  }
}

export async function getHealthStatus(input: ServiceInput<CamsParams['GetWhatsappHealthStatus']>): Promise<ServiceResult> {
  const { body } = await camsClientFor(input).getHealthStatus(input.params);
  return { cams: body };
}
