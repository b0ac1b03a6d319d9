import * as z from 'zod/mini';
import { TOP_LEVEL_REPLY, type CamsAction, type CamsData } from './operations.ts';

// Lenient on fields we do not read (CAMS adds fields over time), strict on the ones we do.
// Built on first use, not at import: schema construction is a measurable part of a cold start.

function build() {
  const canSendMessage = z.enum(['AVAILABLE', 'LIMITED', 'BLOCKED']);
  const accountReviewStatus = z.enum(['PENDING', 'APPROVED', 'REJECTED', 'DISABLED']);
  const optionalString = z.optional(z.string());

  /** The part of every reply the client relies on before looking at Data. */
  const envelopeSchema = z.looseObject({
    RequestId: z.string(),
    Code: z.string(),
    Message: z.optional(z.string()),
    Success: z.optional(z.boolean()),
    Data: z.optional(z.unknown()),
  });

  const healthErrorSchema = z.looseObject({
    ErrorCode: z.string(),
    ErrorDescription: optionalString,
    PossibleSolution: optionalString,
  });

  const healthEntitySchema = z.looseObject({
    EntityType: z.string(),
    WabaId: optionalString,
    BusinessId: optionalString,
    PhoneNumber: optionalString,
    TemplateCode: optionalString,
    Language: optionalString,
    CanSendMessage: canSendMessage,
    Errors: z.optional(z.array(healthErrorSchema)),
  });

  /** `Data` of each operation's successful reply; the annotation keeps them in step with CamsData. */
  const dataSchemas: { [A in CamsAction]: z.ZodMiniType<CamsData[A]> } = {
    ChatappBindWaba: z.looseObject({ CustSpaceId: z.string(), WabaId: z.string() }),
    QueryChatappBindWaba: z.looseObject({
      Id: optionalString,
      Name: optionalString,
      AccountReviewStatus: z.optional(accountReviewStatus),
      Currency: optionalString,
      MessageTemplateNamespace: optionalString,
      BusinessId: optionalString,
      BusinessName: optionalString,
      PrimaryBusinessLocation: optionalString,
      AuthInternationalRateEligibility: z.optional(z.record(z.string(), z.unknown())),
    }),
    // No Data in the reply; whatever comes is ignored.
    AddChatappPhoneNumber: z.pipe(
      z.unknown(),
      z.transform((): undefined => undefined),
    ),
    GetWhatsappHealthStatus: z.looseObject({
      CanSendMessage: canSendMessage,
      Entities: z.array(healthEntitySchema),
    }),
    // A space without numbers may come back without the list: read as empty.
    QueryChatappPhoneNumbers: z.looseObject({
      PhoneNumbers: z._default(
        z.array(
          z.looseObject({
            PhoneNumber: z.string(),
            VerifiedName: optionalString,
            Status: optionalString,
            QualityRating: optionalString,
            MessagingLimitTier: optionalString,
            CodeVerificationStatus: optionalString,
            NameStatus: optionalString,
          }),
        ),
        [],
      ),
    }),
    ListChatappTemplate: z.looseObject({
      ListTemplate: z._default(
        z.array(
          z.looseObject({
            TemplateCode: z.string(),
            TemplateName: optionalString,
            Language: z.string(),
            AuditStatus: optionalString,
            Category: optionalString,
            TemplateType: optionalString,
            Reason: optionalString,
            LastUpdateTime: z.optional(z.number()),
          }),
        ),
        [],
      ),
      Total: z.optional(z.number()),
    }),
  };
  return { envelopeSchema, dataSchemas };
}

let built: ReturnType<typeof build> | undefined;
export function replySchemas(): ReturnType<typeof build> {
  return (built ??= build());
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; path: string; message: string };

/** `Data.Entities[0].CanSendMessage` style, as a reader would look it up in the reply. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += (out ? '.' : '') + String(key);
  }
  return out || '(root)';
}

function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown, prefix: readonly PropertyKey[]): ParseResult<T> {
  const r = z.safeParse(schema, value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  const path = formatPath([...prefix, ...issue.path]);
  return { ok: false, path, message: `reply field ${path}: ${issue.message}` };
}

export type Envelope = z.infer<ReturnType<typeof build>['envelopeSchema']>;

export function parseEnvelope(value: unknown): ParseResult<Envelope> {
  return parseWith(replySchemas().envelopeSchema, value, []);
}

export function parseData<A extends CamsAction>(action: A, data: unknown): ParseResult<CamsData[A]> {
  return parseWith<CamsData[A]>(replySchemas().dataSchemas[action], data, ['Data']);
}

/** The payload of a successful reply: `Data`, or the whole body for the operations that have none. */
export function parseReplyData<A extends CamsAction>(action: A, body: Envelope): ParseResult<CamsData[A]> {
  if (!TOP_LEVEL_REPLY.has(action)) return parseData(action, body.Data);
  return parseWith<CamsData[A]>(replySchemas().dataSchemas[action], body, []);
}
