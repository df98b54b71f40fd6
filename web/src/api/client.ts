/**
 * The typed client of the gateway's API. Types come from `schema.d.ts`, generated from the
 * gateway's OpenAPI document (`npm run gen:api`), so a request or an answer that does not match
 * the document fails the type check.
 *
 * What every call shares lives here: the browser session cookie goes along (same origin), unsafe
 * methods carry the CSRF token, the `{success:true,data}` envelope is unwrapped, and every failure
 * becomes an {@link ApiError}.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type ServerErrorCode = Schemas['ErrorCode'];
/** Failures that never produced an error body, named by the client itself. */
export type ClientErrorCode = 'network_error' | 'unexpected_response';
/**
 * The document says codes may be added without notice, so an unknown one is kept as it came
 * (`string & {}` keeps the known ones suggested by the editor).
 */
export type ApiErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

export const CSRF_COOKIE = 'wm_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';
const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    /** The HTTP status; 0 when the server was never reached. */
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** The request field to blame (`validation_failed`), when the server names one. */
    readonly field: string | null = null,
    /** From `Retry-After` (or the rate limiter's body) on a 429 or 503. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/** The value of a cookie that scripts may read, or `null`. */
export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const pair of cookies.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    const raw = pair.slice(separator + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return null;
}

/**
 * The gateway checks that unsafe requests echo the `wm_csrf` cookie in a header (double submit):
 * another site can make the browser send the cookie, but cannot read it to copy it.
 */
const csrfHeader: Middleware = {
  onRequest({ request }) {
    if (!UNSAFE_METHODS.has(request.method.toUpperCase())) return undefined;
    const token = readCookie(CSRF_COOKIE);
    if (token !== null && token !== '') request.headers.set(CSRF_HEADER, token);
    return request;
  },
};

export const api = createClient<paths>({
  // openapi-fetch builds a `Request`, which needs an absolute URL outside browsers (tests).
  baseUrl: globalThis.location?.origin ?? '',
  credentials: 'same-origin',
  headers: { Accept: 'application/json' },
  // Looked up on every call rather than captured once, so tests can stub `fetch`.
  fetch: (request) => globalThis.fetch(request),
});
api.use(csrfHeader);

/** Seconds from a `Retry-After` header: a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** An `ErrorBody`, the rate limiter's `RateLimitExceeded`, or whatever a proxy answered. */
export function toApiError(response: Response, body: unknown): ApiError {
  const fields = isRecord(body) ? body : {};
  const fromBody = typeof fields.retryAfter === 'number' ? fields.retryAfter : null;
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After')) ?? fromBody;
  const code =
    typeof fields.code === 'string'
      ? fields.code
      : response.status === 429
        ? 'rate_limited'
        : 'unexpected_response';
  const message =
    typeof fields.error === 'string' && fields.error !== ''
      ? fields.error
      : `The server answered ${response.status} ${response.statusText}`.trim();
  const field = typeof fields.field === 'string' ? fields.field : null;
  return new ApiError(response.status, code, message, field, retryAfter);
}

/** A call that never produced an answer (or not a JSON one), as an {@link ApiError}. */
export function failedToReach(cause: unknown): ApiError {
  if (cause instanceof ApiError) return cause;
  // fetch rejects with a TypeError when the network fails; a SyntaxError is a body that is not JSON.
  if (cause instanceof SyntaxError) {
    return new ApiError(0, 'unexpected_response', 'The server answered with a body that is not JSON');
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ApiError(0, 'network_error', `The server could not be reached: ${detail}`);
}

interface CallResult<Body> {
  data?: Body;
  error?: unknown;
  response: Response;
}

/**
 * Awaits an `api.*` call and returns the envelope's `data`, or throws an {@link ApiError}.
 *
 * @example const session = await unwrap(api.GET('/api/auth/session'));
 */
export async function unwrap<Envelope extends { success: boolean; data: unknown }>(
  call: Promise<CallResult<Envelope>>,
): Promise<Envelope['data']> {
  let result: CallResult<Envelope>;
  try {
    result = await call;
  } catch (cause) {
    throw failedToReach(cause);
  }
  const { data, error, response } = result;
  if (!response.ok) throw toApiError(response, error);
  if (!isRecord(data) || data.success !== true) {
    throw new ApiError(response.status, 'unexpected_response', 'The answer is not a success envelope');
  }
  return data.data;
}

/** Like {@link unwrap}, for answers without a body (204). */
export async function expectNoContent(call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  let result: { error?: unknown; response: Response };
  try {
    result = await call;
  } catch (cause) {
    throw failedToReach(cause);
  }
  if (!result.response.ok) throw toApiError(result.response, result.error);
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}
