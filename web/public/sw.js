/*
 * The service worker of WUZAPI Manager: the app shell offline, and Web Push notifications.
 *
 * - index.html (any page navigation): network first, so a deploy shows at once; the cached copy
 *   only when the network fails.
 * - /assets/*: cache first. Their names carry a content hash, so a cached file is never stale.
 * - /api/*: never touched. Answers are per user and per session, and must not outlive a sign-out.
 *
 * Plain JavaScript served from the site's root (its scope is then the whole site), registered
 * from src/serviceWorker.ts.
 */

// Bump when this file's caching changes; `activate` deletes caches of other versions.
const CACHE = 'wm-shell-v1';
const SHELL_URL = '/index.html';

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.add(new Request(SHELL_URL, { cache: 'reload' })))
      // Offline support is a bonus: an install must not fail because the shell could not be fetched.
      .catch(() => undefined)
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirstShell(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(SHELL_URL, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(SHELL_URL);
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirstAsset(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return;

  if (request.mode === 'navigate' || url.pathname === SHELL_URL) {
    // Every route of the single-page app is index.html.
    event.respondWith(networkFirstShell(request));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirstAsset(request));
  }
});

/** A same-origin address to open, whatever the payload said (never another site). */
function sameOriginUrl(value) {
  try {
    const url = new URL(typeof value === 'string' && value !== '' ? value : '/', self.location.origin);
    return url.origin === self.location.origin ? url.href : new URL('/', self.location.origin).href;
  } catch {
    return new URL('/', self.location.origin).href;
  }
}

self.addEventListener('push', (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    // Not JSON: shown as the body, so the person still learns something arrived.
    payload = { body: event.data ? event.data.text() : '' };
  }
  const title = typeof payload.title === 'string' && payload.title !== '' ? payload.title : 'WUZAPI Manager';
  const body = typeof payload.body === 'string' ? payload.body : '';
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      icon: '/favicon.svg',
      data: { url: sameOriginUrl(payload.url) },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = sameOriginUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const exact = windows.find((client) => client.url === target);
      if (exact) return exact.focus();
      const any = windows.find((client) => 'navigate' in client);
      if (any) {
        // navigate() rejects for a window this worker does not control: open a new one then.
        return any
          .navigate(target)
          .then((client) => (client ? client.focus() : self.clients.openWindow(target)))
          .catch(() => self.clients.openWindow(target));
      }
      return self.clients.openWindow(target);
    }),
  );
});
