/**
 * The banner's status page line (issue #13). The token is a secret: the line names the variable,
 * never its value.
 */
export function statusPageLine(url: string, routes: ReadonlyArray<{ method: string; path: string }>, env: Record<string, string | undefined>): string | undefined {
  if (!routes.some((r) => r.method === 'GET' && r.path === '/status')) return undefined;
  if (env['STATUS_PAGE_PUBLIC'] === 'true') return `  status page: ${url}/status  (STATUS_PAGE_PUBLIC=true: anyone can read it)`;
  if (env['STATUS_PAGE_TOKEN']) return `  status page: ${url}/status?token=<STATUS_PAGE_TOKEN>  (once; a cookie keeps you in) or Authorization: Bearer <STATUS_PAGE_TOKEN>`;
  return `  status page: ${url}/status is off (404): set STATUS_PAGE_TOKEN (16+ characters) or STATUS_PAGE_PUBLIC=true`;
}
