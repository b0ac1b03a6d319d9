import { DEADLINE_EXCEEDED, HTTP_ERROR, INVALID_RESPONSE, isPermissionRefusal, isThrottlingCode, NETWORK_ERROR, REQUEST_TIMEOUT } from '../cams/errors.ts';

/** What the advice is chosen from: a CAMS error's code and the HTTP status it came with (0: no reply). */
export interface CamsFailure {
  Code: string;
  httpStatus: number;
  /** The operation refused, when known: discovery's listings are refused apart from the checks. */
  action?: string | undefined;
}

export interface AdviceRow {
  /** Short name of the row, for tests and logs. */
  cause: string;
  matches: (f: CamsFailure) => boolean;
  advice: string | ((f: CamsFailure) => string);
}

/** The operation to name in advice: the one refused, else the checks' own. */
const actionOf = (f: CamsFailure): string => f.action ?? 'GetWhatsappHealthStatus';

// Forbidden.AccessKeyDisabled is here, before the permission row's Forbidden*: no grant helps a disabled key.
const CREDENTIAL_CODES = new Set(['SignatureDoesNotMatch', 'IncompleteSignature', 'Forbidden.AccessKeyDisabled']);
const NO_ANSWER_CODES = new Set([NETWORK_ERROR, HTTP_ERROR, INVALID_RESPONSE]);

/**
 * What to do about a CAMS error in a monitor alert, by code. The first matching row wins, so the
 * specific rows come before the broad ones (network/5xx, then the fallback). A generic "check the
 * network" for an ownership error sent people looking in the wrong place.
 */
export const CAMS_ADVICE: readonly AdviceRow[] = [
  {
    cause: 'ownership',
    matches: (f) => f.Code === 'Unknown.ResourceOwnerId',
    advice:
      'The space or WABA is not owned by the account these credentials belong to: it was bound with another account, or CAMS no longer knows it. Bind it again with this account (POST /waba/bind) or remove the target.',
  },
  {
    cause: 'credentials',
    matches: (f) => CREDENTIAL_CODES.has(f.Code) || f.Code.startsWith('InvalidAccessKeyId') || f.Code.startsWith('InvalidSecurityToken'),
    advice: 'CAMS refused the credentials: check the function role (its STS token) or ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET.',
  },
  {
    cause: 'permission',
    // RAM's own codes too (NoPermission, NotAuthorized): a missing grant, not a target to fix.
    matches: (f) => isPermissionRefusal(f.Code) || f.Code.startsWith('Forbidden'),
    advice: (f) => `The credentials lack the permission: grant cams:${actionOf(f)} to the health-monitor's role (on FC 2.0, the service role).`,
  },
  {
    cause: 'subscription',
    matches: (f) => f.Code === 'Product.Unsubscript',
    advice: 'Chat App Message Service is not activated for this account: activate it in the Alibaba Cloud console.',
  },
  {
    cause: 'quota',
    matches: (f) => isThrottlingCode(f.Code) || f.httpStatus === 429,
    advice: (f) => `CAMS throttled the checks: lower MONITOR_QPS, or ask Alibaba Cloud for a higher ${actionOf(f)} quota. The rest is checked on the next tick.`,
  },
  {
    cause: 'parameters',
    matches: (f) => f.Code.startsWith('InvalidParameter') || f.Code.startsWith('MissingParameter') || f.Code === 'InvalidTarget',
    advice: 'CAMS refused the target: fix its CustSpaceId, NodeType and the fields that NodeType needs, or remove it.',
  },
  {
    cause: 'time',
    matches: (f) => f.Code === DEADLINE_EXCEEDED || f.Code === REQUEST_TIMEOUT,
    advice: "CAMS did not answer in time: check the latency to CAMS_ENDPOINT, or give health-monitor a longer timeout. The rest is checked on the next tick.",
  },
  {
    cause: 'network',
    matches: (f) => NO_ANSWER_CODES.has(f.Code) || f.httpStatus === 0 || f.httpStatus >= 500,
    advice: 'Check CAMS_ENDPOINT and the network path to CAMS; the monitor retries on the next tick.',
  },
];

const FALLBACK = 'CAMS refused this check; see the error description. Fix the target or remove it.';

export function adviceFor(f: CamsFailure): string {
  const advice = CAMS_ADVICE.find((row) => row.matches(f))?.advice ?? FALLBACK;
  return typeof advice === 'string' ? advice : advice(f);
}
