import * as z from '../validation/schema.ts';
import { TOP_LEVEL_REPLY, type CamsAction, type CamsData } from './operations.ts';

// Lenient on fields we do not read (CAMS adds fields over time), strict on the ones we do.
// Built on first use, each on its own, not at import: schema construction is a measurable part of a
// cold start, and a function calls one or two of the operations.

/** A value built on its first use and kept. */
function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

// Any string: a value CAMS (and Meta behind it) adds later is data for the monitor to show, not a
// reply to refuse (AVAILABLE, LIMITED and BLOCKED are the ones known today).
const canSendMessage = once(() => z.string());
const optionalString = once(() => z.optional(z.string()));

/** The part of every reply the client relies on before looking at Data. */
const envelopeSchema = once(() =>
  z.looseObject({
    RequestId: z.string(),
    Code: z.string(),
    Message: z.optional(z.string()),
    Success: z.optional(z.boolean()),
    Data: z.optional(z.unknown()),
  }),
);

const healthEntitySchema = () =>
  z.looseObject({
    EntityType: z.string(),
    WabaId: optionalString(),
    BusinessId: optionalString(),
    PhoneNumber: optionalString(),
    TemplateCode: optionalString(),
    Language: optionalString(),
    CanSendMessage: canSendMessage(),
    Errors: z.optional(
      z.array(
        z.looseObject({
          ErrorCode: z.string(),
          ErrorDescription: optionalString(),
          PossibleSolution: optionalString(),
        }),
      ),
    ),
  });

/** `Data` of each operation's successful reply; the annotation keeps them in step with CamsData. */
const dataSchemas: { [A in CamsAction]: () => z.Schema<CamsData[A]> } = {
  ChatappBindWaba: once(() => z.looseObject({ CustSpaceId: z.string(), WabaId: z.string() })),
  QueryChatappBindWaba: once(() =>
    z.looseObject({
      Id: optionalString(),
      Name: optionalString(),
      // Any string, as CanSendMessage: a value Meta adds later (an empty one included) must not make a
      // bound WABA unreadable, nor fail an onboarding whose number is already added; the monitor
      // judges only the values it knows (shared/monitor/waba-review.ts).
      AccountReviewStatus: optionalString(),
      Currency: optionalString(),
      MessageTemplateNamespace: optionalString(),
      BusinessId: optionalString(),
      BusinessName: optionalString(),
      PrimaryBusinessLocation: optionalString(),
      AuthInternationalRateEligibility: z.optional(z.record(z.string(), z.unknown())),
    }),
  ),
  // No Data in the reply; whatever comes is ignored.
  AddChatappPhoneNumber: once(() =>
    z.pipe(
      z.unknown(),
      z.transform((): undefined => undefined),
    ),
  ),
  GetWhatsappHealthStatus: once(() =>
    z.looseObject({
      CanSendMessage: canSendMessage(),
      Entities: z.array(healthEntitySchema()),
    }),
  ),
  // A space without numbers may come back without the list: read as empty.
  QueryChatappPhoneNumbers: once(() =>
    z.looseObject({
      PhoneNumbers: z._default(
        z.array(
          z.looseObject({
            PhoneNumber: z.string(),
            VerifiedName: optionalString(),
            Status: optionalString(),
            QualityRating: optionalString(),
            MessagingLimitTier: optionalString(),
            CodeVerificationStatus: optionalString(),
            NameStatus: optionalString(),
          }),
        ),
        [],
      ),
    }),
  ),
  ListChatappTemplate: once(() =>
    z.looseObject({
      ListTemplate: z._default(
        z.array(
          z.looseObject({
            TemplateCode: z.string(),
            TemplateName: optionalString(),
            Language: z.string(),
            AuditStatus: optionalString(),
            Category: optionalString(),
            TemplateType: optionalString(),
            Reason: optionalString(),
            LastUpdateTime: z.optional(z.number()),
          }),
        ),
        [],
      ),
      Total: z.optional(z.number()),
    }),
  ),
};

export type ParseResult<T> = { ok: true; value: T } | { ok: false; path: string; message: string };

/** `Data.Entities[0].CanSendMessage` style, as a reader would look it up in the reply. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += (out ? '.' : '') + String(key);
  }
  return out || '(root)';
}

function parseWith<T>(schema: z.Schema<T>, value: unknown, prefix: readonly PropertyKey[]): ParseResult<T> {
  const r = z.safeParse(schema, value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  const path = formatPath([...prefix, ...issue.path]);
  return { ok: false, path, message: `reply field ${path}: ${issue.message}` };
}

export type Envelope = z.infer<ReturnType<typeof envelopeSchema>>;

export function parseEnvelope(value: unknown): ParseResult<Envelope> {
  return parseWith(envelopeSchema(), value, []);
}

function parseData<A extends CamsAction>(action: A, data: unknown): ParseResult<CamsData[A]> {
  return parseWith<CamsData[A]>(dataSchemas[action](), data, ['Data']);
}

/** The payload of a successful reply: `Data`, or the whole body for the operations that have none. */
export function parseReplyData<A extends CamsAction>(action: A, body: Envelope): ParseResult<CamsData[A]> {
  if (!TOP_LEVEL_REPLY.has(action)) return parseData(action, body.Data);
  return parseWith<CamsData[A]>(dataSchemas[action](), body, []);
}
