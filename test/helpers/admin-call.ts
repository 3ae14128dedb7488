import type { Switchyard } from '../../src/app.js';

/** A JSON answer, read field by field in assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk admin JSON of many shapes
export type Json = Record<string, any>;

/** One admin API call with a JSON body (when given); resolves with the status, the ETag and the parsed answer. */
export async function adminCall(
  app: Switchyard | string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; etag: string | null; body: Json }> {
  const base = typeof app === 'string' ? app : app.adminUrl;
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, etag: response.headers.get('etag'), body: (text ? JSON.parse(text) : {}) as Json };
}
