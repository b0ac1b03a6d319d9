import type { CamsClient } from './client.ts';
import { isCamsError, isPermissionRefusal, type CamsError } from './errors.ts';

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
 * ours (InSpace); not in it, not ours, whatever our earlier attempts were. Only a listing RAM refused
 * (a role without cams:QueryChatappPhoneNumbers: isPermissionRefusal) goes by our attempts: one that
 * may have been applied (`maybeApplied`) makes it ours, unlisted; else not ours. A listing that failed
 * for now (throttled, 5xx, no answer, a 2xx we could not read) is thrown as it is: asked again later,
 * it may still tell. So is any other failure (InvalidParameter, an expired token, a gateway's 4xx page):
 * it said nothing of the number, and the caller sees it.
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
    // Only RAM refusing the role the listing leaves our attempts to go by. Any other failure said
    // nothing of the number (a bad IsvCode, an expired token, a gateway's page, a reply we could not
    // read) and is thrown: taken as a refusal, it made someone else's number ours.
    if (!isCamsError(q) || q.retryable || !isPermissionRefusal(q.Code)) throw q;
    log?.({ level: 'warn', msg: 'cannot tell whether an existing number is in our space', code: q.Code });
    return maybeApplied ? { ours: true, InSpace: false } : { ours: false };
  }
  return listed.some((n) => n.PhoneNumber.replace(/^\+/, '') === full) ? { ours: true, InSpace: true } : { ours: false };
}
