import { describe, expect, it, vi } from 'vitest';
import { errorBody, envelope, fakeApi } from '../test/fakeApi';
import { currentSession, login, logout } from './auth';
import { publicBranding } from './branding';
import { ApiError, CSRF_HEADER, parseRetryAfter, readCookie } from './client';

const session = {
  user: {
    userId: 'usr_1',
    role: 'user',
    tenantId: 'ten_1',
    accountId: 'acc_1',
    email: 'ana@example.com',
    name: 'Ana',
  },
  csrfToken: 'token-from-body',
  expiresAt: '2030-01-01T00:00:00Z',
};

describe('the API client', () => {
  it('adds X-CSRF-Token from the wm_csrf cookie on POST', async () => {
    document.cookie = 'other=1; path=/';
    document.cookie = 'wm_csrf=abc%20123; path=/';
    const api = fakeApi({ 'POST /api/auth/logout': { status: 204 } });
    await logout();
    const [request] = api.sent('POST /api/auth/logout');
    expect(request?.headers.get(CSRF_HEADER)).toBe('abc 123');
    expect(request?.credentials).toBe('same-origin');
  });

  it('sends no X-CSRF-Token on GET, even with the cookie set', async () => {
    document.cookie = 'wm_csrf=abc; path=/';
    const api = fakeApi({ 'GET /api/auth/session': { body: envelope(session) } });
    await currentSession();
    const [request] = api.sent('GET /api/auth/session');
    expect(request).toBeDefined();
    expect(request?.headers.has(CSRF_HEADER)).toBe(false);
  });

  it('sends no header at all on POST when there is no cookie', async () => {
    const api = fakeApi({ 'POST /api/auth/login': { body: envelope(session) } });
    await login({ email: 'ana@example.com', password: 'secret' });
    expect(api.sent('POST /api/auth/login')[0]?.headers.has(CSRF_HEADER)).toBe(false);
  });

  it('unwraps the success envelope', async () => {
    const api = fakeApi({ 'POST /api/auth/login': { body: envelope(session) } });
    await expect(login({ tenant: 'acme', email: 'ana@example.com', password: 'secret' })).resolves.toEqual(session);
    expect(await api.sent('POST /api/auth/login')[0]?.json()).toEqual({
      tenant: 'acme',
      email: 'ana@example.com',
      password: 'secret',
    });
  });

  it('turns an error body into an ApiError with code, message, field and status', async () => {
    fakeApi({
      'POST /api/auth/login': { status: 422, body: errorBody('validation_failed', 'email is too long', 'email') },
    });
    const failure = await login({ email: 'a@b.co', password: 'x' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 422, code: 'validation_failed', message: 'email is too long', field: 'email' });
  });

  it('reads Retry-After on a 429', async () => {
    fakeApi({
      'POST /api/auth/login': {
        status: 429,
        headers: { 'Retry-After': '42' },
        body: errorBody('rate_limited', 'too many attempts'),
      },
    });
    await expect(login({ email: 'a@b.co', password: 'x' })).rejects.toMatchObject({
      status: 429,
      code: 'rate_limited',
      retryAfterSeconds: 42,
    });
  });

  it("understands the tenant rate limiter's own body, which has no code", async () => {
    fakeApi({
      'GET /api/public/branding': { status: 429, body: { success: false, error: 'Rate limit exceeded', retryAfter: 7 } },
    });
    await expect(publicBranding({ slug: 'acme' })).rejects.toMatchObject({ code: 'rate_limited', retryAfterSeconds: 7 });
  });

  it('passes the branding lookup as a query parameter', async () => {
    const api = fakeApi({ 'GET /api/public/branding': { body: envelope({ appName: 'Acme' }) } });
    await publicBranding({ host: 'login.acme.example' });
    expect(new URL(api.requests[0]!.url).searchParams.get('host')).toBe('login.acme.example');
  });

  it('answers null for a 401 session and throws for other failures', async () => {
    fakeApi({ 'GET /api/auth/session': { status: 401, body: errorBody('unauthenticated', 'no session') } });
    await expect(currentSession()).resolves.toBeNull();
    fakeApi({ 'GET /api/auth/session': { status: 503, body: errorBody('service_unavailable', 'down') } });
    await expect(currentSession()).rejects.toMatchObject({ status: 503 });
  });

  it('reports a network failure as network_error with status 0', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed')));
    await expect(currentSession()).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });

  it('rejects a 200 that is not a success envelope', async () => {
    fakeApi({ 'GET /api/auth/session': { body: { hello: 'proxy page' } } });
    await expect(currentSession()).rejects.toMatchObject({ code: 'unexpected_response' });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:02:00 GMT', now)).toBe(120);
  });
});

describe('readCookie', () => {
  it('finds a cookie by exact name', () => {
    expect(readCookie('wm_csrf', 'x_wm_csrf=no; wm_csrf=yes; z=1')).toBe('yes');
    expect(readCookie('wm_csrf', 'a=1')).toBeNull();
  });
});
