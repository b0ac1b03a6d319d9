import type { CamsClient } from './client.ts';
import { HTTP_ERROR, INVALID_RESPONSE, isCamsError, type CamsError } from './errors.ts';

/** The number an AddChatappPhoneNumber named. */
export interface AddedNumber {
  CustSpaceId: string;
  Cc: string;
  PhoneNumber: string;
  /** An onboarding's IsvCode (the add itself takes none): the listing passes it on, as the onboarding's QueryChatappBindWaba does. */
  IsvCode?: string;
}

/** An earlier attempt of the same add went out unanswered or was answered 5xx: CAMS may have applied it. */
export function earlierAttemptMayHaveApplied(e: CamsError): boolean {
  return e.afterAmbiguousAttempt === true || e.afterServerError === true;
}

/** Whose a number is that CAMS said exists: ours (InSpace when the list shows it), or not in the space's list. */
export type ExistingNumber = { ours: true; InSpace: boolean } | { ours: false };

/**
 * Whose number a Phone.Exists names, as the space's own list (QueryChatappPhoneNumbers) says: in it,
 * ours (InSpace); not in it, not ours, whatever our earlier attempts were. Only a refused listing (a
 * role without cams:QueryChatappPhoneNumbers) goes by our attempts: one that may have been applied
 * (`maybeApplied`) makes it ours, unlisted; else not ours. A listing that failed for now (throttled,
 * 5xx, no answer, a 2xx we could not read) is thrown as it is: asked again later, it may still tell.
 * So is one answered without CAMS's envelope (a gateway's 4xx page, HttpError): not CAMS refusing.
 */
export async function whoseExistingNumber(
  cams: Pick<CamsClient, 'queryPhoneNumbers'>,
  added: AddedNumber,
  maybeApplied: boolean,
  log?: (record: Record<string, unknown>) => void,
): Promise<ExistingNumber> {
  const full = `${added.Cc}${added.PhoneNumber}`;
  let listed;
  try {
    const isv = added.IsvCode ? { IsvCode: added.IsvCode } : {};
    listed = (await cams.queryPhoneNumbers({ CustSpaceId: added.CustSpaceId, ...isv })).data.PhoneNumbers;
  } catch (q) {
    // Only CAMS refusing the listing leaves our attempts to go by: a reply we could not read said
    // nothing, nor did a 4xx without CAMS's envelope (a gateway's page: it took someone else's number for ours).
    if (!isCamsError(q) || q.retryable || q.Code === INVALID_RESPONSE || q.Code === HTTP_ERROR) throw q;
    log?.({ level: 'warn', msg: 'cannot tell whether an existing number is in our space', code: q.Code });
    return maybeApplied ? { ours: true, InSpace: false } : { ours: false };
  }
  return listed.some((n) => n.PhoneNumber.replace(/^\+/, '') === full) ? { ours: true, InSpace: true } : { ours: false };
}
