import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { AppRoutes } from '../App';
import { envelope, errorBody, fakeApi } from '../test/fakeApi';
import { renderAt, Route } from '../test/render';

const notification = (id: string, title: string, readAt: string | null = null) => ({
  id,
  userId: 'usr_1',
  eventId: `evt_${id}`,
  kind: 'campaign.completed',
  title,
  body: `${title} body`,
  data: {},
  createdAt: '2026-11-01T10:00:00Z',
  readAt,
});

const session = {
  user: { userId: 'usr_1', role: 'user', tenantId: 'ten_1', accountId: 'acc_1', email: 'ana@acme.example', name: 'Ana' },
  csrfToken: 'csrf',
  expiresAt: '2099-01-01T12:00:00Z',
};

/** A stand-in for the browser's EventSource, so a test can push events. */
class FakeEventSource extends EventTarget {
  static last: FakeEventSource | null = null;
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeEventSource.last = this;
  }
  close() {
    this.closed = true;
  }
}

function renderApp(address: string) {
  return renderAt(address, <Route path="*" element={<AppRoutes />} />);
}

describe('notifications', () => {
  it('shows the unread count in the header and refreshes it when the stream says so', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    let unread = 2;
    fakeApi({
      'GET /api/auth/session': { body: envelope(session) },
      'GET /api/notifications/unread-count': () => ({ body: envelope({ unread }) }),
    });
    renderApp('/session');
    expect(await screen.findByRole('link', { name: 'Notifications, 2 unread' })).toBeTruthy();
    expect(FakeEventSource.last?.url).toBe('/api/notifications/stream');
    unread = 3;
    act(() => {
      FakeEventSource.last?.dispatchEvent(new MessageEvent('notification', { data: JSON.stringify(notification('n9', 'New')) }));
    });
    expect(await screen.findByRole('link', { name: 'Notifications, 3 unread' })).toBeTruthy();
  });

  it('lists notifications, marks one and then all as read', async () => {
    let readAll = false;
    const read = new Set<string>();
    const api = fakeApi({
      'GET /api/auth/session': { body: envelope(session) },
      'GET /api/notifications/unread-count': () => ({ body: envelope({ unread: readAll ? 0 : 2 - read.size }) }),
      'GET /api/notifications': (request) => {
        const all = [notification('n1', 'Campaign finished'), notification('n2', 'Import finished'), notification('n0', 'Old news', '2026-10-01T00:00:00Z')].map((item) =>
          readAll || read.has(item.id) ? { ...item, readAt: item.readAt ?? '2026-11-02T00:00:00Z' } : item,
        );
        const unreadOnly = new URL(request.url).searchParams.get('unread') === 'true';
        return { body: { success: true, data: unreadOnly ? all.filter((item) => !item.readAt) : all, nextCursor: null } };
      },
      'POST /api/notifications/n1/read': () => (read.add('n1'), { body: envelope(notification('n1', 'Campaign finished', '2026-11-02T00:00:00Z')) }),
      'POST /api/notifications/read-all': () => ((readAll = true), { body: envelope({ marked: 1 }) }),
    });
    renderApp('/notifications');
    const user = userEvent.setup();
    expect(await screen.findByRole('heading', { level: 2, name: /Campaign finished/ })).toBeTruthy();
    await user.click(screen.getByRole('checkbox', { name: 'Unread only' }));
    await waitFor(() => expect(screen.queryByRole('heading', { level: 2, name: /Old news/ })).toBeNull());
    await user.click(screen.getByRole('button', { name: 'Mark as read: “Campaign finished”' }));
    await waitFor(() => expect(screen.queryByRole('heading', { level: 2, name: /Campaign finished/ })).toBeNull());
    expect(await screen.findByRole('link', { name: 'Notifications, 1 unread' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Mark all as read' }));
    expect(await screen.findByText('No notifications.')).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole('link', { name: /unread/ })).toBeNull());
    expect(api.sent('POST /api/notifications/read-all')).toHaveLength(1);
  });

  it('subscribes the browser to push through the service worker', async () => {
    const subscribe = vi.fn(async () => ({
      endpoint: 'https://push.example/abc',
      toJSON: () => ({ endpoint: 'https://push.example/abc', expirationTime: null, keys: { p256dh: 'p256', auth: 'auth' } }),
    }));
    vi.stubGlobal('PushManager', class {});
    vi.stubGlobal('Notification', { requestPermission: vi.fn(async () => 'granted') });
    Object.defineProperty(navigator, 'serviceWorker', {
      configurable: true,
      value: { getRegistration: vi.fn(async () => ({ pushManager: { subscribe } })) },
    });
    const api = fakeApi({
      'GET /api/auth/session': { body: envelope(session) },
      'GET /api/notifications/unread-count': { body: envelope({ unread: 0 }) },
      'GET /api/notifications': { body: { success: true, data: [], nextCursor: null } },
      'GET /api/push/vapid-public-key': { body: envelope({ publicKey: 'AQID' }) },
      'POST /api/push/subscriptions': { status: 201, body: envelope({ id: 'sub_1' }) },
    });
    try {
      renderApp('/notifications');
      await userEvent.setup().click(await screen.findByRole('button', { name: 'Turn on browser notifications' }));
      expect(await screen.findByText('Browser notifications are on for this device.')).toBeTruthy();
      expect(Array.from((subscribe.mock.calls[0] as unknown as [{ applicationServerKey: Uint8Array }])[0].applicationServerKey)).toEqual([1, 2, 3]);
      expect(await api.sent('POST /api/push/subscriptions')[0]?.json()).toEqual({
        endpoint: 'https://push.example/abc',
        expirationTime: null,
        keys: { p256dh: 'p256', auth: 'auth' },
      });
    } finally {
      delete (navigator as unknown as Record<string, unknown>).serviceWorker;
    }
  });

  it('shows the server message when the list fails', async () => {
    fakeApi({
      'GET /api/auth/session': { body: envelope(session) },
      'GET /api/notifications/unread-count': { body: envelope({ unread: 0 }) },
      'GET /api/notifications': { status: 503, body: errorBody('unavailable', 'the database is busy') },
    });
    renderApp('/notifications');
    const main = await screen.findByRole('main');
    expect((await within(main).findByRole('alert')).textContent).toBe('the database is busy');
  });
});
