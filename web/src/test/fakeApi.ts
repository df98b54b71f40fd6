import { vi } from 'vitest';

/** One answer of the fake gateway: a JSON body (or none, for 204) with a status and headers. */
export interface FakeAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type FakeRoutes = Record<string, FakeAnswer | ((request: Request) => FakeAnswer)>;

export const envelope = (data: unknown) => ({ success: true, data });

export const errorBody = (code: string, error: string, field?: string) => ({
  success: false,
  code,
  error,
  ...(field ? { field } : {}),
});

/**
 * Stubs `fetch` with a gateway that answers by `"METHOD /path"` and records every request, so a
 * test can say what was (or was not) sent. An unknown route is a 404 error body.
 */
export function fakeApi(routes: FakeRoutes) {
  const requests: Request[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request);
    const url = new URL(request.url);
    const route = routes[`${request.method} ${url.pathname}`];
    const answer: FakeAnswer =
      typeof route === 'function'
        ? route(request)
        : (route ?? { status: 404, body: errorBody('not_found', `no fake for ${url.pathname}`) });
    const status = answer.status ?? 200;
    const hasBody = answer.body !== undefined && status !== 204;
    return new Response(hasBody ? JSON.stringify(answer.body) : null, {
      status,
      headers: { ...(hasBody ? { 'Content-Type': 'application/json' } : {}), ...answer.headers },
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return {
    requests,
    /** The requests made to `"METHOD /path"`. */
    sent: (key: string) => requests.filter((request) => `${request.method} ${new URL(request.url).pathname}` === key),
  };
}
