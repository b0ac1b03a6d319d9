/**
 * The path (`Templates.1.Name`) of the first key that one object of a JSON text holds twice, else
 * undefined. The text is valid JSON (JSON.parse took it), so a scan of its strings and brackets is
 * enough; no recursion, whatever the nesting.
 */
export function repeatedJsonKey(text: string): string | undefined {
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
        if (top.keys.has(key)) return [...stack.slice(0, -1).map((f) => ('keys' in f ? f.key : String(f.index))), key].join('.');
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
  return undefined;
}
