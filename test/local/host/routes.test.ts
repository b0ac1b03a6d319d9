import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../../local/host/routes.ts';

function table(): RouteTable {
  const t = new RouteTable();
  t.add({ method: 'GET', path: '/silences', functionName: 'silences' });
  t.add({ method: 'DELETE', path: '/silences/{id}', functionName: 'silences' });
  t.add({ method: 'GET', path: '/onboardings/{id}', functionName: 'onboarding-api' });
  return t;
}

describe('RouteTable.match', () => {
  it('a parameter segment that is not valid URL encoding reaches its function, which names the parameter (as on FC)', () => {
    expect(table().match('DELETE', '/silences/%E9')).toMatchObject({ kind: 'found', route: { functionName: 'silences', path: '/silences/{id}' }, params: { id: '%E9' } });
    expect(table().match('GET', '/onboardings/100%')).toMatchObject({ kind: 'found', route: { functionName: 'onboarding-api' } });
    // Another method on it: still passed on, since the function names the parameter before it
    // answers 405 (as on FC); a decodable id with a wrong method is the host's 405.
    expect(table().match('GET', '/silences/%E9')).toMatchObject({ kind: 'found', route: { functionName: 'silences' }, params: { id: '%E9' } });
    expect(table().match('GET', '/silences/sil-1')).toEqual({ kind: 'method-not-allowed', allow: ['DELETE'] });
  });

  it('a literal segment is compared decoded; one that does not decode matches no literal', () => {
    expect(table().match('GET', '/%73ilences')).toMatchObject({ kind: 'found', route: { path: '/silences' } });
    expect(table().match('GET', '/silences%E9')).toEqual({ kind: 'not-found' });
    expect(table().match('DELETE', '/%E9/sil-1')).toEqual({ kind: 'not-found' });
  });

  it('an empty parameter segment matches nothing; one trailing slash is allowed', () => {
    expect(table().match('DELETE', '/silences//')).toEqual({ kind: 'not-found' });
    expect(table().match('DELETE', '/silences/sil-1/')).toMatchObject({ kind: 'found', params: { id: 'sil-1' } });
  });
});
