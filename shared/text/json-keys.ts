/**
 * The path (`Templates.1.Name`) of the first key that one object of a JSON text holds twice, else
 * undefined.
 */
export function repeatedJsonKey(text: string): string | undefined {
  for (const repeat of repeatedJsonKeys(text)) return repeat.path().join('.');
  return undefined;
}

/** A key held again: its path's first segment, and the whole path (`['Templates', '1', 'Name']`). */
export interface RepeatedKey {
  first: string;
  /** Built when asked for (a deep path costs its depth), before the scan goes on to the next. */
  path(): string[];
}

/**
 * Every key that one object of a JSON text holds again (each repeat), in text order. The text is
 * valid JSON (JSON.parse took it), so a scan of its strings and brackets is enough; no recursion,
 * whatever the nesting.
 */
export function* repeatedJsonKeys(text: string): Generator<RepeatedKey> {
  type Frame = { keys: Set<string>; key: string } | { index: number };
  const stack: Frame[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The closing quote: the next one not escaped (preceded by an even run of backslashes).
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c /* \ */) slashes += 1;
        if (slashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      const top = stack[stack.length - 1];
      if (keyNext && top && 'keys' in top) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.keys.has(key)) {
          const segment = (f: Frame) => ('keys' in f ? f.key : String(f.index));
          yield { first: stack.length > 1 ? segment(stack[0]!) : key, path: () => [...stack.slice(0, -1).map(segment), key] };
        }
        top.keys.add(key);
        top.key = key;
        keyNext = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), key: '' });
      keyNext = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ index: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top && 'keys' in top) keyNext = true;
      else if (top) top.index += 1;
    }
  }
}
