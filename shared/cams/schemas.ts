import * as z from 'zod/mini';
import type { CamsAction, CamsData } from './operations.ts';

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
