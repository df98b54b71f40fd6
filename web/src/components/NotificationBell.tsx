/**
 * The shell's unread count and the live notification stream. Lazy-loaded by AppShell (which is in
 * the entry chunk), so none of it weighs on the login page.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link } from 'react-router-dom';
import { NOTIFICATION_STREAM, unreadCount } from '../api/notifications';
import { format } from '../i18n';
import { usePageText } from '../i18n/pages';
import '../pages/pages.css';

export const notificationsKey = ['notifications'] as const;
export const unreadKey = [...notificationsKey, 'unread-count'] as const;

/**
 * One `EventSource` on the gateway's stream (same origin: the session cookie goes along). Each
 * `notification` event refreshes the count and the lists; the browser reconnects by itself and
 * sends `Last-Event-ID`, so the gateway replays what was missed.
 */
function useNotificationStream() {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (typeof EventSource === 'undefined') return undefined;
    const source = new EventSource(NOTIFICATION_STREAM, { withCredentials: false });
    const onNotification = () => void queryClient.invalidateQueries({ queryKey: notificationsKey });
    source.addEventListener('notification', onNotification);
    return () => {
      source.removeEventListener('notification', onNotification);
      source.close();
    };
  }, [queryClient]);
}

export default function NotificationBell() {
  const { p } = usePageText();
  useNotificationStream();
  const unread = useQuery({ queryKey: unreadKey, queryFn: unreadCount, staleTime: 30_000 });
  const count = unread.data ?? 0;
  const label = count > 0 ? format(p.notifications.bellUnread, { n: count }) : p.notifications.bell;
  return (
    <Link to="/notifications" className="bell" aria-label={label} title={label}>
      <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="currentColor">
        <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" />
      </svg>
      {count > 0 ? <span className="bell__count">{count > 99 ? '99+' : count}</span> : null}
    </Link>
  );
}
