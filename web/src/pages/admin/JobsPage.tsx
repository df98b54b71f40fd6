import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { listDeadJobs, listWorkers, QUEUE_NAMES, queueStats, replayAllDead, replayJob, type QueueName } from '../../api/jobs';
import { nextPageParam } from '../../api/page';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { format } from '../../i18n';
import { formatDateTime, formatNumber, usePageText } from '../../i18n/pages';
import '../pages.css';

const jobsKey = ['jobs'] as const;
/** The queue counters and the workers' heartbeats are asked for again this often. */
export const JOBS_POLL_MS = 5000;

function Queues() {
  const { p, language } = usePageText();
  const stats = useQuery({ queryKey: [...jobsKey, 'stats'], queryFn: queueStats, refetchInterval: JOBS_POLL_MS });
  const n = (value: number | null | undefined) => (value === null || value === undefined ? '—' : formatNumber(value, language));
  return (
    <section aria-labelledby="queues-title">
      <h2 id="queues-title">{p.jobs.queuesTitle}</h2>
      <ErrorAlert error={stats.error} fallback={p.common.unexpected} />
      {stats.data && !stats.data.brokerAvailable ? (
        <p className="warning" role="status">
          {p.jobs.brokerDown}
        </p>
      ) : null}
      {stats.isPending ? (
        <Loading />
      ) : stats.data ? (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.jobs.queue}</th>
                <th scope="col">{p.jobs.waiting}</th>
                <th scope="col">{p.jobs.active}</th>
                <th scope="col">{p.jobs.delayed}</th>
                <th scope="col">{p.jobs.completed}</th>
                <th scope="col">{p.jobs.failed}</th>
                <th scope="col">{p.jobs.dead}</th>
                <th scope="col">{p.jobs.consumers}</th>
              </tr>
            </thead>
            <tbody>
              {stats.data.queues.map((queue) => (
                <tr key={queue.queue}>
                  <th scope="row">{queue.queue}</th>
                  <td className="cell--number">{n(queue.waiting)}</td>
                  <td className="cell--number">{n(queue.active)}</td>
                  <td className="cell--number">{n(queue.delayed)}</td>
                  <td className="cell--number">{n(queue.completed)}</td>
                  <td className="cell--number">{n(queue.failed)}</td>
                  <td className="cell--number">{n(queue.deadLettered)}</td>
                  <td className="cell--number">{n(queue.consumers ?? queue.broker?.consumers)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function Workers() {
  const { p, language } = usePageText();
  const workers = useInfiniteQuery({
    queryKey: [...jobsKey, 'workers'],
    queryFn: ({ pageParam }) => listWorkers(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
    refetchInterval: JOBS_POLL_MS,
  });
  const rows = useMemo(() => workers.data?.pages.flatMap((page) => page.items) ?? [], [workers.data]);
  return (
    <section aria-labelledby="workers-title">
      <h2 id="workers-title">{p.jobs.workersTitle}</h2>
      <ErrorAlert error={workers.error} fallback={p.common.unexpected} />
      {workers.isPending ? (
        <Loading />
      ) : rows.length === 0 && !workers.isError ? (
        <p className="warning">{p.jobs.noWorkers}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.jobs.worker}</th>
                <th scope="col">{p.jobs.queue}</th>
                <th scope="col">{p.jobs.inFlight}</th>
                <th scope="col">{p.jobs.lastHeartbeat}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((worker) => (
                <tr key={worker.id}>
                  <th scope="row">
                    {worker.host}:{worker.pid}
                  </th>
                  <td>{worker.queue}</td>
                  <td className="cell--number">
                    {worker.inFlight} / {worker.concurrency}
                  </td>
                  <td>{formatDateTime(worker.lastHeartbeatAt, language)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={workers.hasNextPage} loading={workers.isFetchingNextPage} onLoad={() => void workers.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
    </section>
  );
}

function DeadJobs() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const [queue, setQueue] = useState<QueueName | ''>('');
  const [notice, setNotice] = useState<string | null>(null);
  const dead = useInfiniteQuery({
    queryKey: [...jobsKey, 'dead', { queue }],
    queryFn: ({ pageParam }) => listDeadJobs({ cursor: pageParam, queue }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: jobsKey });
  const replayOne = useMutation({
    mutationFn: replayJob,
    onSuccess: () => {
      setNotice(p.jobs.replayedOne);
      return refresh();
    },
  });
  const replayAll = useMutation({
    mutationFn: () => replayAllDead(queue),
    onSuccess: (result) => {
      setNotice(format(p.jobs.replayedMany, { n: result.replayed }));
      return refresh();
    },
  });
  const rows = useMemo(() => dead.data?.pages.flatMap((page) => page.items) ?? [], [dead.data]);
  return (
    <section aria-labelledby="dead-title">
      <h2 id="dead-title">{p.jobs.deadTitle}</h2>
      <div className="toolbar">
        <SelectField label={p.jobs.queue} value={queue} onChange={(event) => setQueue(event.target.value as QueueName | '')}>
          <option value="">{p.jobs.allQueues}</option>
          {QUEUE_NAMES.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </SelectField>
        <Button variant="secondary" onClick={() => replayAll.mutate()} disabled={replayAll.isPending || rows.length === 0}>
          {p.jobs.replayAll}
        </Button>
      </div>
      {notice ? (
        <p className="form-success" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorAlert error={dead.error ?? replayOne.error ?? replayAll.error} fallback={p.common.unexpected} />
      {dead.isPending ? (
        <Loading />
      ) : rows.length === 0 && !dead.isError ? (
        <p>{p.jobs.noDead}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.jobs.job}</th>
                <th scope="col">{p.jobs.queue}</th>
                <th scope="col">{p.jobs.attempts}</th>
                <th scope="col">{p.jobs.error}</th>
                <th scope="col">{p.jobs.deadAt}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((job) => (
                <tr key={job.id}>
                  <th scope="row">
                    <code>{job.id}</code>
                  </th>
                  <td>{job.queue}</td>
                  <td className="cell--number">
                    {job.attempts} / {job.maxAttempts}
                  </td>
                  <td className="cell--wrap">{job.error ?? ''}</td>
                  <td>{formatDateTime(job.deadLetteredAt ?? job.createdAt, language)}</td>
                  <td>
                    <Button
                      variant="secondary"
                      className="button--small"
                      aria-label={format(p.jobs.replayName, { id: job.id })}
                      disabled={replayOne.isPending}
                      onClick={() => replayOne.mutate(job.id)}
                    >
                      {p.jobs.replay}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={dead.hasNextPage} loading={dead.isFetchingNextPage} onLoad={() => void dead.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
    </section>
  );
}

/** Queues, workers and dead-lettered jobs (superadmin). */
export default function JobsPage() {
  const { p } = usePageText();
  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.jobs.title}</h1>
      <Queues />
      <Workers />
      <DeadJobs />
    </section>
  );
}
