/**
 * Cursor pages and hand-written calls, for the pages (never the entry chunk: only lazy pages
 * import this file).
 *
 * The gateway's lists answer `{success, data: [...], nextCursor}`; `unwrap` keeps only `data`, so
 * lists go through {@link unwrapPage}. A call the generated client cannot make (a file as the
 * body) goes through {@link rawRequest}, which shares the client's rules (same-origin cookie,
 * CSRF header on unsafe methods, error envelope to {@link ApiError}).
 */
import { ApiError, CSRF_COOKIE, CSRF_HEADER, failedToReach, readCookie, toApiError } from './client';

export interface CursorPage<Item> {
  items: Item[];
  nextCursor: string | null;
}

interface PageCall<Item> {
  // The document types a page's items as partial (a `fields` projection may leave any out).
  data?: { success: boolean; data: Partial<Item>[]; nextCursor?: string | null };
  error?: unknown;
  response: Response;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * `?fields=` naming every field of `Item`, for a list whose items a page shows whole: without it a
 * list answers a short default projection (`id`, `name`, ...). The fields are given as an object
 * so that the type checker insists on each of the item's fields and refuses unknown ones: a field
 * the document adds cannot be left out unnoticed.
 */
export function everyField<Item>(fields: { [Key in keyof Required<Item>]: true }): string {
  return Object.keys(fields).join(',');
}

/**
 * Awaits an `api.GET` of a list and returns its items and the cursor of the next page. Items are
 * whole when the call asks for {@link everyField}.
 */
export async function unwrapPage<Item>(call: Promise<PageCall<Item>>): Promise<CursorPage<Item>> {
  let result: PageCall<Item>;
  try {
    result = await call;
  } catch (cause) {
    throw failedToReach(cause);
  }
  const { data, error, response } = result;
  if (!response.ok) throw toApiError(response, error);
  if (!isRecord(data) || data.success !== true || !Array.isArray(data.data)) {
    throw new ApiError(response.status, 'unexpected_response', 'The answer is not a page envelope');
  }
  return { items: data.data as Item[], nextCursor: data.nextCursor ?? null };
}

/** The cursor TanStack's `useInfiniteQuery` asks for next: `undefined` when there is none. */
export const nextPageParam = <Item,>(page: CursorPage<Item>): string | undefined => page.nextCursor ?? undefined;

export type Query = Record<string, string | number | boolean | null | undefined>;

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** An address of the gateway's API with a query string (for links: downloads). */
export function apiUrl(path: string, query?: Query): string {
  return `${path}${queryString(query)}`;
}

/**
 * A call the generated client cannot make (a file streamed as the body). Returns the whole
 * success envelope; the caller names the type it expects.
 */
export async function rawRequest<Body>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  options: { query?: Query; body?: unknown; file?: { body: Blob; contentType: string } } = {},
): Promise<Body> {
  const headers = new Headers({ Accept: 'application/json' });
  if (options.body !== undefined) headers.set('Content-Type', 'application/json');
  if (options.file) headers.set('Content-Type', options.file.contentType);
  if (method !== 'GET') {
    const token = readCookie(CSRF_COOKIE);
    if (token !== null && token !== '') headers.set(CSRF_HEADER, token);
  }
  let response: Response;
  let body: unknown = undefined;
  try {
    const base = globalThis.location?.origin ?? '';
    response = await globalThis.fetch(
      new Request(`${base}${path}${queryString(options.query)}`, {
        method,
        headers,
        credentials: 'same-origin',
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        // A file goes out as it is: the browser streams it from disk.
        ...(options.file ? { body: options.file.body } : {}),
      }),
    );
    if (response.status !== 204) {
      const text = await response.text();
      body = text === '' ? undefined : JSON.parse(text);
    }
  } catch (cause) {
    throw failedToReach(cause);
  }
  if (!response.ok) throw toApiError(response, body);
  if (response.status !== 204 && (!isRecord(body) || body.success !== true)) {
    throw new ApiError(response.status, 'unexpected_response', 'The answer is not a success envelope');
  }
  return body as Body;
}

/** {@link rawRequest} for one object: the envelope's `data`. */
export async function rawData<Data>(...args: Parameters<typeof rawRequest>): Promise<Data> {
  return (await rawRequest<{ data: Data }>(...args)).data;
}
