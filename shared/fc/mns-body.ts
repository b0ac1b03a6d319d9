/**
 * An SMQ/MNS message body, as the queue trigger hands it over (`IsBase64Decode: false`: the body as
 * the sender wrote it). MNS SDKs write a message body base64-encoded unless told to send it raw (the
 * Java SDK's `setMessageBody` does; `setMessageBodyAsRawString` does not), so a body that is not
 * JSON but is base64 of JSON is read as that JSON. Either way the sender's JSON is what counts, after
 * a leading byte order mark (some Windows tools write one; an HTTP body's is skipped too, and a raw
 * one here had a receipts message set aside as "not JSON"). Throws SyntaxError when the body is neither.
 * The value, with the JSON text it was read from (the body, or what its base64 encodes): a key given
 * twice is looked for in the text (../text/json-keys.ts), as JSON.parse keeps the last silently.
 */
export function readMessageBody(body: string): { value: unknown; text: string } {
  const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  try {
    return { value: JSON.parse(text), text };
  } catch (error) {
    const decoded = base64Text(body);
    if (decoded === undefined) throw error;
    return { value: JSON.parse(decoded), text: decoded };
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$/;

/** The UTF-8 text a strict base64 string encodes; undefined when it is not base64 of valid UTF-8. */
function base64Text(s: string): string | undefined {
  const t = s.trim();
  if (!BASE64.test(t)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(t, 'base64'));
  } catch {
    return undefined;
  }
}
