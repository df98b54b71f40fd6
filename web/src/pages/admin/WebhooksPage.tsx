import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { isApiError } from '../../api/client';
import { nextPageParam } from '../../api/page';
import {
  createEndpoint,
  deleteEndpoint,
  EVENT_KINDS,
  listDeliveries,
  listEndpoints,
  replayDelivery,
  replayFailed,
  rotateSecret,
  updateEndpoint,
  type DeliveryStatus,
  type Endpoint,
  type EventKind,
} from '../../api/webhooks';
import { Button } from '../../components/Button';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { format } from '../../i18n';
import { formatDateTime, usePageText } from '../../i18n/pages';
import '../pages.css';

const endpointsKey = ['webhook-endpoints'] as const;
/** How long the previous secret keeps working after a rotation. */
const ROTATION_OVERLAP_SECONDS = 24 * 3600;

/** A signing secret, shown once: after this the gateway only ever shows that one exists. */
function SecretOnce({ secret }: { secret: string }) {
  const { p } = usePageText();
  return (
    <div className="form-success" role="status">
      <p>{p.webhooks.secretOnce}</p>
      <div className="secret">
        <code>{secret}</code>
        <CopyButton value={secret} label={p.common.copy} copiedLabel={p.common.copied} />
      </div>
    </div>
  );
}

function EventChoices({ chosen, onChange }: { chosen: ReadonlySet<EventKind>; onChange: (next: Set<EventKind>) => void }) {
  const { p } = usePageText();
  return (
    <fieldset className="fieldset">
      <legend>{p.webhooks.events}</legend>
      <div className="checkbox-grid">
        {EVENT_KINDS.map((kind) => (
          <label key={kind} className="checkbox">
            <input
              type="checkbox"
              checked={chosen.has(kind)}
              onChange={(event) => {
                const next = new Set(chosen);
                if (event.target.checked) next.add(kind);
                else next.delete(kind);
                onChange(next);
              }}
            />
            <code>{kind}</code>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function CreateEndpointForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<EventKind>>(() => new Set(['campaign.completed']));
  const [urlError, setUrlError] = useState<string | undefined>();
  const [failure, setFailure] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({ mutationFn: createEndpoint });

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setSecret(null);
    if (!/^https:\/\/\S+$/i.test(url.trim())) {
      setUrlError(p.webhooks.urlInvalid);
      return;
    }
    setUrlError(undefined);
    try {
      const created = await create.mutateAsync({ url: url.trim(), eventTypes: EVENT_KINDS.filter((kind) => events.has(kind)), enabled: true });
      setSecret(created.secret);
      setUrl('');
      await queryClient.invalidateQueries({ queryKey: endpointsKey });
    } catch (error) {
      if (isApiError(error) && error.field === 'url') setUrlError(error.message);
      else setFailure(error);
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="endpoint-create-title">
      <h2 id="endpoint-create-title">{p.webhooks.createTitle}</h2>
      <TextField label={p.webhooks.url} type="url" placeholder="https://" value={url} error={urlError} onChange={(event) => setUrl(event.target.value)} />
      <EventChoices chosen={events} onChange={setEvents} />
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {secret ? <SecretOnce secret={secret} /> : null}
      <Button type="submit" disabled={create.isPending}>
        {create.isPending ? p.common.creating : p.webhooks.create}
      </Button>
    </form>
  );
}

function Deliveries({ endpoint }: { endpoint: Endpoint }) {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  const [notice, setNotice] = useState<string | null>(null);
  const key = [...endpointsKey, endpoint.id, 'deliveries', { status }];
  const deliveries = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam }) => listDeliveries(endpoint.id, { cursor: pageParam, status }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const replayOne = useMutation({
    mutationFn: replayDelivery,
    onSuccess: () => {
      setNotice(p.webhooks.replayedOne);
      return queryClient.invalidateQueries({ queryKey: [...endpointsKey, endpoint.id, 'deliveries'] });
    },
  });
  const replayAll = useMutation({
    // The last seven days' failures.
    mutationFn: () => replayFailed(endpoint.id, new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString()),
    onSuccess: (result) => {
      setNotice(format(p.webhooks.replayedMany, { n: result.replayed }));
      return queryClient.invalidateQueries({ queryKey: [...endpointsKey, endpoint.id, 'deliveries'] });
    },
  });
  const rows = useMemo(() => deliveries.data?.pages.flatMap((page) => page.items) ?? [], [deliveries.data]);
  return (
    <section className="panel" aria-labelledby={`deliveries-${endpoint.id}`}>
      <h4 id={`deliveries-${endpoint.id}`}>{format(p.webhooks.deliveriesOf, { url: endpoint.url })}</h4>
      <div className="toolbar">
        <SelectField label={p.common.status} value={status} onChange={(event) => setStatus(event.target.value as DeliveryStatus | '')}>
          <option value="">{p.campaigns.allStatuses}</option>
          <option value="pending">{p.webhooks.deliveryStatus.pending}</option>
          <option value="delivered">{p.webhooks.deliveryStatus.delivered}</option>
          <option value="failed">{p.webhooks.deliveryStatus.failed}</option>
        </SelectField>
        <Button variant="secondary" onClick={() => replayAll.mutate()} disabled={replayAll.isPending}>
          {p.webhooks.replayFailed}
        </Button>
      </div>
      {notice ? (
        <p className="form-success" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorAlert error={deliveries.error ?? replayOne.error ?? replayAll.error} fallback={p.common.unexpected} />
      {deliveries.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p>{p.common.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.webhooks.event}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.webhooks.attempts}</th>
                <th scope="col">{p.webhooks.lastResult}</th>
                <th scope="col">{p.common.createdAt}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((delivery) => (
                <tr key={delivery.id}>
                  <th scope="row">
                    <code>{delivery.eventType}</code>
                  </th>
                  <td>{p.webhooks.deliveryStatus[delivery.status]}</td>
                  <td className="cell--number">{delivery.attempts}</td>
                  <td className="cell--wrap">{[delivery.lastStatus ?? '', delivery.lastError ?? ''].filter(Boolean).join(' · ')}</td>
                  <td>{formatDateTime(delivery.createdAt, language)}</td>
                  <td>
                    <Button variant="secondary" className="button--small" disabled={replayOne.isPending} onClick={() => replayOne.mutate(delivery.id)}>
                      {p.webhooks.replay}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={deliveries.hasNextPage} loading={deliveries.isFetchingNextPage} onLoad={() => void deliveries.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
    </section>
  );
}

function EndpointCard({ endpoint, open, onToggleOpen }: { endpoint: Endpoint; open: boolean; onToggleOpen: () => void }) {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const [secret, setSecret] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: endpointsKey });
  const toggle = useMutation({ mutationFn: () => updateEndpoint(endpoint.id, { enabled: !endpoint.enabled }), onSuccess: refresh });
  const rotate = useMutation({
    mutationFn: () => rotateSecret(endpoint.id, ROTATION_OVERLAP_SECONDS),
    onSuccess: (result) => {
      setSecret(result.secret);
      return refresh();
    },
  });
  const remove = useMutation({ mutationFn: () => deleteEndpoint(endpoint.id), onSuccess: refresh });
  return (
    <li className="notification">
      <h3 className="cell--wrap">{endpoint.url}</h3>
      <p>
        <span className={endpoint.enabled ? 'state state--good' : 'state state--bad'}>{endpoint.enabled ? p.webhooks.enabled : p.webhooks.disabled}</span>
        {endpoint.disabledReason ? <span className="muted"> · {endpoint.disabledReason}</span> : null}
        {endpoint.failingSince ? <span className="muted"> · {format(p.webhooks.failingSince, { when: formatDateTime(endpoint.failingSince, language) })}</span> : null}
      </p>
      <p className="muted">{endpoint.eventTypes.join(', ')}</p>
      {endpoint.previousSecretExpiresAt ? (
        <p className="muted">{format(p.webhooks.previousSecret, { when: formatDateTime(endpoint.previousSecretExpiresAt, language) })}</p>
      ) : null}
      {secret ? <SecretOnce secret={secret} /> : null}
      <ErrorAlert error={toggle.error ?? rotate.error ?? remove.error} fallback={p.common.unexpected} />
      <div className="button-row">
        <Button variant="secondary" className="button--small" disabled={toggle.isPending} onClick={() => toggle.mutate()}>
          {endpoint.enabled ? p.webhooks.disable : p.webhooks.enable}
        </Button>
        <Button variant="secondary" className="button--small" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
          {p.webhooks.rotate}
        </Button>
        <Button variant="secondary" className="button--small" aria-expanded={open} onClick={onToggleOpen}>
          {open ? p.webhooks.hideDeliveries : p.webhooks.showDeliveries}
        </Button>
        <Button variant="secondary" className="button--small" disabled={remove.isPending} onClick={() => remove.mutate()}>
          {p.common.delete}
        </Button>
      </div>
      {open ? <Deliveries endpoint={endpoint} /> : null}
    </li>
  );
}

export default function WebhooksPage() {
  const { p } = usePageText();
  const [openId, setOpenId] = useState<string | null>(null);
  const endpoints = useInfiniteQuery({
    queryKey: endpointsKey,
    queryFn: ({ pageParam }) => listEndpoints(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const rows = useMemo(() => endpoints.data?.pages.flatMap((page) => page.items) ?? [], [endpoints.data]);
  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.webhooks.title}</h1>
      <p>{p.webhooks.intro}</p>
      <h2>{p.webhooks.listTitle}</h2>
      <ErrorAlert error={endpoints.error} fallback={p.common.unexpected} />
      {endpoints.isPending ? (
        <Loading />
      ) : rows.length === 0 && !endpoints.isError ? (
        <p>{p.webhooks.empty}</p>
      ) : (
        <ul className="notifications">
          {rows.map((endpoint) => (
            <EndpointCard key={endpoint.id} endpoint={endpoint} open={openId === endpoint.id} onToggleOpen={() => setOpenId(openId === endpoint.id ? null : endpoint.id)} />
          ))}
        </ul>
      )}
      <LoadMore hasMore={endpoints.hasNextPage} loading={endpoints.isFetchingNextPage} onLoad={() => void endpoints.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
      <CreateEndpointForm />
    </section>
  );
}
