// @vitest-environment node
/// <reference types="node" />
/**
 * public/sw.js runs here in a sandbox whose `self`, `caches` and `clients` are fakes, so its
 * caching rules and its push handling are checked without a browser.
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';

const ORIGIN = 'https://app.example';
const source = readFileSync(new URL('../public/sw.js', import.meta.url), 'utf8');

type Listener = (event: Record<string, unknown>) => void;

interface FakeRequest {
  url: string;
  method: string;
  mode: string;
}

function loadWorker(network: (request: FakeRequest) => Promise<Response>) {
  const listeners = new Map<string, Listener>();
  const store = new Map<string, Response>();
  const cache = {
    match: async (request: FakeRequest | string) =>
      store.get(typeof request === 'string' ? request : new URL(request.url).pathname)?.clone(),
    put: async (request: FakeRequest | string, response: Response) => {
      store.set(typeof request === 'string' ? request : new URL(request.url).pathname, response);
    },
    add: async () => undefined,
  };
  const windows: Array<{ url: string; focus: ReturnType<typeof vi.fn>; navigate: ReturnType<typeof vi.fn> }> = [];
  const self = {
    location: new URL(`${ORIGIN}/sw.js`),
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
    skipWaiting: vi.fn(),
    registration: { showNotification: vi.fn(async () => undefined) },
    clients: {
      claim: vi.fn(),
      matchAll: vi.fn(async () => windows),
      openWindow: vi.fn(async () => null),
    },
  };
  const fetchSpy = vi.fn(network);
  runInNewContext(source, {
    self,
    caches: { open: async () => cache, keys: async () => [], delete: async () => true },
    fetch: fetchSpy,
    Request,
    Response,
    URL,
  });
  /** Dispatches an event; returns what the worker answered (`respondWith`) and waited for. */
  const dispatch = async (type: string, fields: Record<string, unknown>) => {
    let answer: Promise<Response> | undefined;
    let waited: Promise<unknown> | undefined;
    listeners.get(type)?.({
      ...fields,
      respondWith: (value: Promise<Response>) => (answer = value),
      waitUntil: (value: Promise<unknown>) => (waited = value),
    });
    await waited;
    return answer;
  };
  return { dispatch, store, self, windows, fetchSpy };
}

/** A GET as the worker sees it (Node's Request cannot be built with mode `navigate`). */
const get = (path: string, mode = 'cors') => ({ request: { url: `${ORIGIN}${path}`, method: 'GET', mode } });

describe('the service worker', () => {
  it('leaves /api/* alone', async () => {
    const worker = loadWorker(async () => new Response('{}'));
    expect(await worker.dispatch('fetch', get('/api/auth/session'))).toBeUndefined();
    expect(await worker.dispatch('fetch', get('/api/campaigns', 'navigate'))).toBeUndefined();
  });

  it('serves hashed assets from the cache once fetched', async () => {
    const worker = loadWorker(async () => new Response('console.log(1)'));
    await (await worker.dispatch('fetch', get('/assets/index-abc.js')))?.text();
    const second = await worker.dispatch('fetch', get('/assets/index-abc.js'));
    expect(await second?.text()).toBe('console.log(1)');
    expect(worker.fetchSpy).toHaveBeenCalledTimes(1);
  });

  it('fetches index.html from the network first and falls back to the cached copy offline', async () => {
    let online = true;
    const worker = loadWorker(async () => {
      if (!online) throw new TypeError('offline');
      return new Response('<html>v2</html>');
    });
    expect(await (await worker.dispatch('fetch', get('/session', 'navigate')))?.text()).toBe('<html>v2</html>');
    online = false;
    expect(await (await worker.dispatch('fetch', get('/campaigns', 'navigate')))?.text()).toBe('<html>v2</html>');
  });

  it('shows a push as a notification and opens only same-origin addresses', async () => {
    const worker = loadWorker(async () => new Response(''));
    await worker.dispatch('push', {
      data: { json: () => ({ title: 'Campaign sent', body: '120 messages delivered', url: '/campaigns/c_1' }) },
    });
    expect(worker.self.registration.showNotification).toHaveBeenCalledWith('Campaign sent', {
      body: '120 messages delivered',
      icon: '/favicon.svg',
      data: { url: `${ORIGIN}/campaigns/c_1` },
    });

    const close = vi.fn();
    await worker.dispatch('notificationclick', { notification: { close, data: { url: 'https://evil.example/' } } });
    expect(close).toHaveBeenCalled();
    expect(worker.self.clients.openWindow).toHaveBeenCalledWith(`${ORIGIN}/`);
  });

  it('focuses a window already at the address', async () => {
    const worker = loadWorker(async () => new Response(''));
    const focus = vi.fn(async () => undefined);
    worker.windows.push({ url: `${ORIGIN}/campaigns/c_1`, focus, navigate: vi.fn() });
    await worker.dispatch('notificationclick', {
      notification: { close: vi.fn(), data: { url: `${ORIGIN}/campaigns/c_1` } },
    });
    expect(focus).toHaveBeenCalled();
    expect(worker.self.clients.openWindow).not.toHaveBeenCalled();
  });
});
