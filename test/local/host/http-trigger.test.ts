import { describe, expect, it } from 'vitest';
import { joinedHeaders, joinedQuery } from '../../../local/host/http-trigger.ts';

describe('the FC 3.0 HTTP trigger event\'s maps', () => {
  it('query keys named like Object members are ordinary keys, values verbatim, repeats comma-joined', () => {
    const q = joinedQuery('constructor=x&__proto__=y&toString=z&hasOwnProperty=1&a=1&a=2');
    expect(Object.entries(q)).toEqual([
      ['constructor', 'x'],
      ['__proto__', 'y'],
      ['toString', 'z'],
      ['hasOwnProperty', '1'],
      ['a', '1,2'],
    ]);
    // What the function receives: the event's JSON.
    expect(JSON.parse(JSON.stringify({ queryParameters: q })).queryParameters).toEqual(
      JSON.parse('{"constructor":"x","__proto__":"y","toString":"z","hasOwnProperty":"1","a":"1,2"}'),
    );
  });

  it('header names like Object members are kept too', () => {
    const h = joinedHeaders(['__proto__', 'a', 'constructor', 'b', 'Constructor', 'c']);
    expect(Object.entries(h)).toEqual([
      ['__proto__', 'a'],
      ['constructor', 'b,c'],
    ]);
  });
});
