import { zodResolver } from '@hookform/resolvers/zod';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { memo, useCallback, useMemo, useState } from 'react';
import * as z from 'zod/mini';
import { connectInbox, createInbox, listInboxes, type Inbox } from '../../api/inboxes';
import { nextPageParam } from '../../api/page';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { useCreateForm } from '../../components/useCreateForm';
import { format, type Language } from '../../i18n';
import { formatDateTime, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';

export const inboxesKey = ['inboxes'] as const;

/** Every inbox page, for the list here and the inbox pickers of other pages. */
export function useInboxes() {
  return useInfiniteQuery({
    queryKey: inboxesKey,
    queryFn: ({ pageParam }) => listInboxes(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
}

function inboxSchema(p: PageDictionary['inboxes']) {
  return z.object({
    name: z.string().check(z.trim(), z.minLength(1, p.nameRequired)),
    token: z.string().check(z.trim(), z.minLength(1, p.tokenRequired)),
    wuzapiUrl: z.string().check(z.trim(), z.refine((value) => value === '' || /^https?:\/\/\S+$/i.test(value), p.urlInvalid)),
  });
}
type InboxValues = z.infer<ReturnType<typeof inboxSchema>>;

/** Whether WUZAPI posts this number's events to the gateway, and since when or why not. */
function EventsState({ inbox, p, language }: { inbox: Inbox; p: PageDictionary['inboxes']; language: Language }) {
  const { events } = inbox;
  if (events.error) return <span className="state state--bad">{format(p.eventsError, { error: events.error })}</span>;
  if (!events.configured) return <span className="state state--warn">{p.eventsNotConfigured}</span>;
  return (
    <span className="state state--good">
      {events.signed ? p.eventsSigned : p.eventsConfigured}
      {events.configuredAt ? ` ${format(p.configuredAt, { when: formatDateTime(events.configuredAt, language) })}` : ''}
    </span>
  );
}

const InboxRow = memo(function InboxRow({
  inbox,
  p,
  language,
  onConnect,
  connecting,
}: {
  inbox: Inbox;
  p: PageDictionary['inboxes'];
  language: Language;
  onConnect: (inbox: Inbox) => void;
  connecting: boolean;
}) {
  return (
    <tr>
      <th scope="row">{inbox.name}</th>
      <td className="cell--wrap">{inbox.wuzapiUrl}</td>
      <td>{inbox.tokenHint}</td>
      <td>
        <EventsState inbox={inbox} p={p} language={language} />
      </td>
      <td>
        <Button
          variant="secondary"
          aria-label={format(p.connectName, { name: inbox.name })}
          disabled={connecting}
          onClick={() => onConnect(inbox)}
        >
          {connecting ? p.connecting : p.connect}
        </Button>
      </td>
    </tr>
  );
});

function CreateInboxForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const schema = useMemo(() => inboxSchema(p.inboxes), [p.inboxes]);
  const { form, failure, done, submit } = useCreateForm<InboxValues>(
    { resolver: zodResolver(schema), defaultValues: { name: '', token: '', wuzapiUrl: '' } },
    ['name', 'token', 'wuzapiUrl'],
  );
  const {
    register,
    formState: { errors, isSubmitting },
  } = form;

  const onSubmit = submit(async ({ name, token, wuzapiUrl }) => {
    const inbox = await createInbox({ name, token, ...(wuzapiUrl ? { wuzapiUrl } : {}) });
    await queryClient.invalidateQueries({ queryKey: inboxesKey });
    return format(p.inboxes.created, { name: inbox.name });
  });

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="inbox-create-title">
      <h2 id="inbox-create-title">{p.inboxes.createTitle}</h2>
      <TextField label={p.inboxes.name} autoComplete="off" error={errors.name?.message} {...register('name')} />
      <TextField
        label={p.inboxes.tokenLabel}
        type="password"
        autoComplete="off"
        error={errors.token?.message}
        {...register('token')}
      />
      <TextField
        label={p.inboxes.wuzapiUrlLabel}
        type="url"
        inputMode="url"
        placeholder="https://"
        error={errors.wuzapiUrl?.message}
        {...register('wuzapiUrl')}
      />
      <p className="field__hint">{p.inboxes.wuzapiUrlHint}</p>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {done ? (
        <p className="form-success" role="status">
          {done}
        </p>
      ) : null}
      <Button type="submit" disabled={isSubmitting}>
        {isSubmitting ? p.common.creating : p.inboxes.submit}
      </Button>
    </form>
  );
}

export default function InboxesPage() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const inboxes = useInboxes();
  const [notice, setNotice] = useState<string | null>(null);
  const connect = useMutation({
    mutationFn: (inbox: Inbox) => connectInbox(inbox.id),
    onSuccess: (inbox) => {
      setNotice(format(p.inboxes.connected, { name: inbox.name }));
      return queryClient.invalidateQueries({ queryKey: inboxesKey });
    },
  });
  const rows = useMemo(() => inboxes.data?.pages.flatMap((page) => page.items) ?? [], [inboxes.data]);
  const { mutate } = connect;
  const onConnect = useCallback(
    (inbox: Inbox) => {
      setNotice(null);
      mutate(inbox);
    },
    [mutate],
  );

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.inboxes.title}</h1>
      <p>{p.inboxes.intro}</p>
      <h2>{p.inboxes.listTitle}</h2>
      <ErrorAlert error={inboxes.error} fallback={p.common.unexpected} />
      <ErrorAlert error={connect.error} fallback={p.common.unexpected} />
      {notice ? (
        <p className="form-success" role="status">
          {notice}
        </p>
      ) : null}
      {inboxes.isPending ? (
        <Loading />
      ) : rows.length === 0 && !inboxes.isError ? (
        <p>{p.common.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.inboxes.name}</th>
                <th scope="col">{p.inboxes.server}</th>
                <th scope="col">{p.inboxes.token}</th>
                <th scope="col">{p.inboxes.events}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((inbox) => (
                <InboxRow
                  key={inbox.id}
                  inbox={inbox}
                  p={p.inboxes}
                  language={language}
                  onConnect={onConnect}
                  connecting={connect.isPending && connect.variables?.id === inbox.id}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore
        hasMore={inboxes.hasNextPage}
        loading={inboxes.isFetchingNextPage}
        onLoad={() => void inboxes.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
      <CreateInboxForm />
    </section>
  );
}
