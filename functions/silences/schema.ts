import * as z from '../../shared/validation/schema.ts';
import { ALERT_NAMES, MATCHER_NAMES, MATCHER_NODE_TYPES, type MatcherName } from '../../shared/silences/silence.ts';
import { MAX_PAGE_SIZE } from '../../shared/silences/store.ts';
import { CustSpaceId, FullPhoneNumber, Language, requiredString, TemplateCode, WabaId } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';
import { NextToken, PageSize } from '../../shared/validation/page-params.ts';
import { isInvisibleText, isWellFormedText } from '../../shared/text/chars.ts';

const YEAR_10000 = Date.UTC(10000, 0, 1);

const isoTime = requiredString().check(
  // abort: not a time at all is one message, not also "is not a valid time".
  // Fractions to 9 digits, as Python's isoformat() (6) and Go's RFC3339Nano (9) write them; kept to the millisecond.
  z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/, { error: 'must be an ISO 8601 time with a zone, e.g. 2026-03-01T08:00:00Z', abort: true }),
  // Date.parse rolls a day the month does not have over into the next month (2027-02-30 is March 2),
  // and a zone can carry 9999-12-31 into year 10000, which toISOString writes as +010000-….
  z.refine((v) => Date.parse(v) < YEAR_10000 && Number(v.slice(8, 10)) <= new Date(Date.UTC(Number(v.slice(0, 4)), Number(v.slice(5, 7)), 0)).getUTCDate(), 'is not a valid time'),
);
/**
 * Shown on the status page and in GET /silences as given: a NUL, a terminal escape or an unpaired
 * surrogate (which has no UTF-8 form) is no one's name or comment, and was stored without a word.
 */
function isPlainText(v: string): boolean {
  for (let i = 0; i < v.length; i += 1) {
    const c = v.charCodeAt(i);
    // C0 controls but tab, LF and CR; DEL and the C1 controls.
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return isWellFormedText(v);
}
const text = (max: number) =>
  requiredString().check(
    z.trim(),
    z.minLength(1, 'is required'),
    // z.trim() takes white space only: a name of U+200B or U+2060 alone was stored as a blank one.
    z.refine((v) => v === '' || !isInvisibleText(v), 'is required: it holds only invisible characters (zero-width, format or other blank characters)'),
    z.maxLength(max, `must be at most ${max} characters`),
    z.refine(isPlainText, 'must be plain text: no control characters (tabs and line breaks aside) and no unpaired surrogate'),
  );

const oneOf = (values: readonly string[]) => requiredString().check(z.refine((v) => values.includes(v), `must be one of ${values.join(', ')}`));

/** A matcher's Value, checked as the alert field it is compared with: a typo would silence nothing. */
const MATCHER_VALUES: Record<MatcherName, z.Schema<string>> = {
  CustSpaceId: CustSpaceId(),
  WabaId: WabaId(),
  PhoneNumber: FullPhoneNumber(),
  TemplateCode: TemplateCode(),
  Language: Language(),
  NodeType: oneOf(MATCHER_NODE_TYPES),
  AlertName: oneOf(ALERT_NAMES),
};

const Matcher = z
  .strictObject(
    {
      Name: oneOf(MATCHER_NAMES),
      Value: text(128),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'must be an object {Name, Value}' : undefined) },
  )
  .check(
    z.superRefine((m, ctx) => {
      // None for an unknown Name (reported on Name), `toString` and `constructor` included.
      const value = Object.hasOwn(MATCHER_VALUES, m.Name) ? MATCHER_VALUES[m.Name as MatcherName].safeParse(m.Value) : undefined;
      if (value && !value.success) ctx.issues.push({ code: 'custom', message: `${value.error.issues[0]!.message} (for ${m.Name})`, path: ['Value'], input: m.Value });
    }),
  );

const CreateSilenceFields = z.strictObject({
  Matchers: z.array(Matcher, { error: (iss) => (iss.input === undefined ? 'is required' : 'must be a list of {Name, Value}') })
    .check(
      z.minLength(1, 'needs at least one matcher: a silence without one would silence everything'),
      z.maxLength(16, 'at most 16 matchers'),
    ),
  StartsAt: z.optional(isoTime),
  EndsAt: isoTime,
  CreatedBy: text(128),
  Comment: text(1024),
});
export type CreateSilenceInput = z.infer<typeof CreateSilenceFields>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The problems across fields, and against the clock, of the fields that are valid themselves: a
 * schema's own checks stop at the first broken field, and the caller would fix one batch of problems
 * only to be told the next.
 */
function crossFieldIssues(input: unknown, fieldIssues: readonly z.RawIssue[], now: number): z.RawIssue[] {
  if (!isObject(input)) return [];
  const broken = new Set(fieldIssues.map((i) => i.path?.[0]));
  const issues: z.RawIssue[] = [];
  const at = (path: PropertyKey[], message: string, value: unknown) => issues.push({ code: 'custom', message, path, input: value });
  const matchers = input['Matchers'];
  if (Array.isArray(matchers)) {
    // Every matcher must hold: two values for one name would silence nothing.
    const first = new Map<string, { i: number; value: string }>();
    matchers.forEach((m: unknown, i) => {
      if (!isObject(m) || typeof m['Name'] !== 'string' || !(MATCHER_NAMES as string[]).includes(m['Name']) || typeof m['Value'] !== 'string') return;
      const [name, value] = [m['Name'], m['Value'].trim()];
      const j = first.get(name);
      if (j === undefined) first.set(name, { i, value });
      else if (j.value !== value) at(['Matchers', i, 'Name'], `${name} is already matched with another value (Matchers.${j.i}): all matchers must hold, so the silence would silence nothing`, name);
    });
  }
  const valid = (key: string) => !broken.has(key) && typeof input[key] === 'string';
  if (valid('EndsAt')) {
    const endsAt = Date.parse(input['EndsAt'] as string);
    if (valid('StartsAt') && endsAt <= Date.parse(input['StartsAt'] as string)) at(['EndsAt'], 'must be after StartsAt', input['EndsAt']);
    if (endsAt <= now) at(['EndsAt'], 'must be in the future', input['EndsAt']);
  }
  return issues;
}

/** POST /silences: every problem at once, the checks across fields beside the per-field ones. */
export function createSilenceParams(now: () => number = Date.now): z.Schema<CreateSilenceInput> {
  return z.transform((input: unknown, ctx) => {
    const fields = CreateSilenceFields.run({ value: input, issues: [] });
    ctx.issues.push(...fields.issues, ...crossFieldIssues(input, fields.issues, now()));
    return fields.value as CreateSilenceInput;
  });
}

/** GET: one page; query values arrive as strings. */
export const ListSilencesParams = camsParams(
  z.strictObject({
    PageSize: PageSize(MAX_PAGE_SIZE),
    NextToken: NextToken(),
  }),
);

export const DeleteSilenceParams = z.strictObject({
  id: z.string().check(z.regex(/^sil-[0-9a-f]{24}$/, 'must be a SilenceId as returned by POST /silences (sil- and 24 hex digits)')),
});
