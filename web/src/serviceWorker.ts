/**
 * Registers `public/sw.js` (the offline app shell and Web Push). From this module, not from an
 * inline script: the gateway's CSP allows scripts from 'self' only.
 */
export function registerServiceWorker(): void {
  // In development Vite serves unhashed modules; a cache-first worker would serve stale code.
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error: unknown) => {
      // The app works without it (no offline shell, no push): say so, do not fail.
      console.warn('The service worker could not be registered', error);
    });
  });
}
