import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type AppNotification = Schemas['Notification'];

const NOTIFICATION_FIELDS = everyField<AppNotification>({
  id: true,
  userId: true,
  eventId: true,
  kind: true,
  title: true,
  body: true,
  data: true,
  createdAt: true,
  readAt: true,
});

export const NOTIFICATION_STREAM = '/api/notifications/stream';

export function listNotifications({ cursor, unread }: { cursor?: string; unread?: boolean }): Promise<CursorPage<AppNotification>> {
  return unwrapPage<AppNotification>(
    api.GET('/api/notifications', { params: { query: { limit: 50, fields: NOTIFICATION_FIELDS, ...(cursor ? { cursor } : {}), ...(unread ? { unread: true } : {}) } } }),
  );
}

export async function unreadCount(): Promise<number> {
  return (await unwrap(api.GET('/api/notifications/unread-count'))).unread;
}

export function markRead(id: string): Promise<AppNotification> {
  return unwrap(api.POST('/api/notifications/{notification_id}/read', { params: { path: { notification_id: id } } }));
}

export async function markAllRead(): Promise<number> {
  return (await unwrap(api.POST('/api/notifications/read-all'))).marked;
}

/** The VAPID key is URL-safe Base64; `PushManager.subscribe` wants its bytes. */
export function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const base64 = (value + '='.repeat((4 - (value.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

export function pushSupported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof window !== 'undefined' && 'PushManager' in window && 'Notification' in window;
}

export type PushOutcome = 'subscribed' | 'denied' | 'no_worker';

/**
 * Subscribes this browser to Web Push through the app's service worker and registers the
 * subscription with the gateway. The worker (public/sw.js) shows the pushed messages.
 */
export async function subscribeToPush(): Promise<PushOutcome> {
  const registration = await navigator.serviceWorker.getRegistration();
  // Development builds register no worker (src/serviceWorker.ts).
  if (!registration) return 'no_worker';
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const { publicKey } = await unwrap(api.GET('/api/push/vapid-public-key'));
  const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) });
  const json = subscription.toJSON();
  await unwrap(
    api.POST('/api/push/subscriptions', {
      body: {
        endpoint: json.endpoint ?? subscription.endpoint,
        expirationTime: json.expirationTime ?? null,
        keys: { p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '' },
      },
    }),
  );
  return 'subscribed';
}
