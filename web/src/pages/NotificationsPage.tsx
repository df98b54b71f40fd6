import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { memo, useMemo, useState } from 'react';
import { isApiError } from '../api/client';
import { listNotifications, markAllRead, markRead, pushSupported, subscribeToPush, type AppNotification, type PushOutcome } from '../api/notifications';
import { nextPageParam } from '../api/page';
import { Button } from '../components/Button';
import { ErrorAlert } from '../components/ErrorAlert';
import { LoadMore } from '../components/LoadMore';
import { Loading } from '../components/Loading';
import { notificationsKey } from '../components/NotificationBell';
import { format, type Language } from '../i18n';
import { formatDateTime, usePageText, type PageDictionary } from '../i18n/pages';
import './pages.css';

const NotificationItem = memo(function NotificationItem({
  item,
  p,
  language,
  onRead,
  busy,
}: {
  item: AppNotification;
  p: PageDictionary['notifications'];
  language: Language;
  onRead: (id: string) => void;
  busy: boolean;
}) {
  const unread = !item.readAt;
  return (
    <li className={unread ? 'notification notification--unread' : 'notification'}>
      <h2>
        {item.title}
        {unread ? <span className="badge">{p.unread}</span> : null}
      </h2>
      <p>{item.body}</p>
      <p className="muted">
        <time dateTime={item.createdAt}>{formatDateTime(item.createdAt, language)}</time>
      </p>
      {unread ? (
        <Button variant="secondary" className="button--small" disabled={busy} onClick={() => onRead(item.id)} aria-label={format(p.markReadName, { title: item.title })}>
          {p.markRead}
        </Button>
      ) : null}
    </li>
  );
});

function PushOptIn() {
  const { p } = usePageText();
  const [outcome, setOutcome] = useState<PushOutcome | null>(null);
  const subscribe = useMutation({ mutationFn: subscribeToPush, onSuccess: setOutcome });
  if (!pushSupported()) return <p className="muted">{p.notifications.pushUnsupported}</p>;
  const message =
    outcome === 'subscribed' ? p.notifications.pushOn : outcome === 'denied' ? p.notifications.pushDenied : outcome === 'no_worker' ? p.notifications.pushNoWorker : null;
  return (
    <div className="panel">
      <h2>{p.notifications.pushTitle}</h2>
      <p>{p.notifications.pushIntro}</p>
      {message ? (
        <p className={outcome === 'subscribed' ? 'form-success' : 'warning'} role="status">
          {message}
        </p>
      ) : null}
      <ErrorAlert error={subscribe.error} fallback={isApiError(subscribe.error) ? p.common.unexpected : p.notifications.pushFailed} />
      <Button onClick={() => subscribe.mutate()} disabled={subscribe.isPending}>
        {subscribe.isPending ? p.notifications.pushEnabling : p.notifications.pushEnable}
      </Button>
    </div>
  );
}

export default function NotificationsPage() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const notifications = useInfiniteQuery({
    queryKey: [...notificationsKey, 'list', { unreadOnly }],
    queryFn: ({ pageParam }) => listNotifications({ cursor: pageParam, unread: unreadOnly }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: notificationsKey });
  const readOne = useMutation({ mutationFn: markRead, onSuccess: refresh });
  const readAll = useMutation({ mutationFn: markAllRead, onSuccess: refresh });
  const items = useMemo(() => notifications.data?.pages.flatMap((page) => page.items) ?? [], [notifications.data]);
  const { mutate: readMutate } = readOne;

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">{p.notifications.title}</h1>
      <div className="toolbar">
        <label className="field--inline checkbox">
          <input type="checkbox" checked={unreadOnly} onChange={(event) => setUnreadOnly(event.target.checked)} />
          {p.notifications.unreadOnly}
        </label>
        <Button variant="secondary" onClick={() => readAll.mutate()} disabled={readAll.isPending}>
          {p.notifications.markAllRead}
        </Button>
      </div>
      <ErrorAlert error={notifications.error ?? readOne.error ?? readAll.error} fallback={p.common.unexpected} />
      {notifications.isPending ? (
        <Loading />
      ) : items.length === 0 && !notifications.isError ? (
        <p>{p.notifications.empty}</p>
      ) : (
        <ul className="notifications">
          {items.map((item) => (
            <NotificationItem
              key={item.id}
              item={item}
              p={p.notifications}
              language={language}
              onRead={readMutate}
              busy={readOne.isPending && readOne.variables === item.id}
            />
          ))}
        </ul>
      )}
      <LoadMore
        hasMore={notifications.hasNextPage}
        loading={notifications.isFetchingNextPage}
        onLoad={() => void notifications.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
      <PushOptIn />
    </section>
  );
}
