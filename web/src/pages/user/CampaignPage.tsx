import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { memo, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import {
  campaignJobStatus,
  controlCampaign,
  getCampaign,
  isCampaignFinished,
  listRecipients,
  RECIPIENT_STATUSES,
  type CampaignAction,
  type Recipient,
  type RecipientStatus,
} from '../../api/campaigns';
import { nextPageParam } from '../../api/page';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { format, type Language } from '../../i18n';
import { formatDateTime, formatNumber, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';
import { campaignsKey, statusClass } from './campaignsShared';

/** How often a campaign that is not finished is asked for its progress. */
export const CAMPAIGN_POLL_MS = 2000;

const RecipientRow = memo(function RecipientRow({ recipient, p, language }: { recipient: Recipient; p: PageDictionary['campaigns']; language: Language }) {
  const when = recipient.repliedAt ?? recipient.readAt ?? recipient.deliveredAt ?? recipient.sentAt ?? null;
  const outcome = recipient.repliedAt ? p.replied : recipient.readAt ? p.read : recipient.deliveredAt ? p.delivered : null;
  return (
    <tr>
      <th scope="row">+{recipient.phone}</th>
      <td>
        {p.recipientStatus[recipient.status]}
        {outcome ? <span className="muted"> · {outcome}</span> : null}
      </td>
      <td>{formatDateTime(when, language)}</td>
      <td className="cell--wrap">{recipient.error ?? ''}</td>
    </tr>
  );
});

function Recipients({ campaignId, live }: { campaignId: string; live: boolean }) {
  const { p, language } = usePageText();
  const [status, setStatus] = useState<RecipientStatus | ''>('');
  const recipients = useInfiniteQuery({
    queryKey: [...campaignsKey, campaignId, 'recipients', { status }],
    queryFn: ({ pageParam }) => listRecipients(campaignId, { cursor: pageParam, status }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
    // Outcomes change while it sends; a slower pace than the progress is enough here.
    refetchInterval: live ? CAMPAIGN_POLL_MS * 5 : false,
  });
  const rows = useMemo(() => recipients.data?.pages.flatMap((page) => page.items) ?? [], [recipients.data]);
  return (
    <section aria-labelledby="recipients-title">
      <h2 id="recipients-title">{p.campaigns.recipientsTitle}</h2>
      <div className="toolbar">
        <SelectField label={p.campaigns.statusFilter} value={status} onChange={(event) => setStatus(event.target.value as RecipientStatus | '')}>
          <option value="">{p.campaigns.allStatuses}</option>
          {RECIPIENT_STATUSES.map((value) => (
            <option key={value} value={value}>
              {p.campaigns.recipientStatus[value]}
            </option>
          ))}
        </SelectField>
      </div>
      <ErrorAlert error={recipients.error} fallback={p.common.unexpected} />
      {recipients.isPending ? (
        <Loading />
      ) : rows.length === 0 && !recipients.isError ? (
        <p>{p.common.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.contacts.phone}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.campaigns.lastChange}</th>
                <th scope="col">{p.campaigns.error}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((recipient) => (
                <RecipientRow key={recipient.id} recipient={recipient} p={p.campaigns} language={language} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore
        hasMore={recipients.hasNextPage}
        loading={recipients.isFetchingNextPage}
        onLoad={() => void recipients.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
    </section>
  );
}

export default function CampaignPage() {
  const { campaignId = '' } = useParams();
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const campaignKey = [...campaignsKey, campaignId];
  const campaign = useQuery({
    queryKey: campaignKey,
    queryFn: () => getCampaign(campaignId),
    refetchInterval: (query) => (query.state.data && isCampaignFinished(query.state.data.status) ? false : CAMPAIGN_POLL_MS),
  });
  const job = useQuery({
    queryKey: [...campaignKey, 'job'],
    queryFn: () => campaignJobStatus(campaignId),
    enabled: campaign.isSuccess,
    refetchInterval: (query) => (query.state.data && isCampaignFinished(query.state.data.campaignStatus) ? false : CAMPAIGN_POLL_MS),
  });
  const control = useMutation({
    mutationFn: (action: CampaignAction) => controlCampaign(campaignId, action),
    onSuccess: (updated) => {
      queryClient.setQueryData(campaignKey, updated);
      void queryClient.invalidateQueries({ queryKey: [...campaignKey, 'job'] });
    },
  });

  if (campaign.isPending) return <Loading />;
  if (campaign.isError) {
    return (
      <section className="page" aria-labelledby="page-title">
        <h1 id="page-title">{p.campaigns.title}</h1>
        <ErrorAlert error={campaign.error} fallback={p.common.unexpected} />
        <Link to="/campaigns">{p.campaigns.back}</Link>
      </section>
    );
  }
  const data = campaign.data;
  const progress = job.data?.progress;
  const status = job.data?.campaignStatus ?? data.status;
  const reason = job.data?.statusReason ?? data.statusReason;
  // The job's status is the fresher of the two while it runs.
  const finished = isCampaignFinished(status);
  const canPause = status === 'running' || status === 'queued' || status === 'scheduled' || status === 'waiting_wuzapi';
  const counts: ReadonlyArray<readonly [string, number]> = progress
    ? [
        [p.campaigns.total, progress.total],
        [p.campaigns.sent, progress.sent],
        [p.campaigns.delivered, progress.delivered],
        [p.campaigns.read, progress.read],
        [p.campaigns.replied, progress.replied],
        [p.campaigns.failed, progress.failed],
        [p.campaigns.uncertain, progress.uncertain],
        [p.campaigns.pending, progress.pending + progress.sending],
        [p.campaigns.skipped, progress.skipped + progress.cancelled],
      ]
    : [];

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <p>
        <Link to="/campaigns">{p.campaigns.back}</Link>
      </p>
      <h1 id="page-title">{data.name}</h1>
      <p>
        <span className={statusClass(status)}>{p.campaigns.status[status]}</span>
        {reason ? <span className="muted"> · {reason}</span> : null}
      </p>
      <h2>{p.campaigns.progressTitle}</h2>
      {progress ? (
        <>
          <label htmlFor="campaign-progress">{format(p.campaigns.percent, { n: progress.percent })}</label>
          <progress id="campaign-progress" className="progress" max={100} value={progress.percent}>
            {progress.percent}%
          </progress>
          <dl className="stats">
            {counts.map(([label, value]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd>{formatNumber(value, language)}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : job.isPending ? (
        <Loading />
      ) : null}
      <ErrorAlert error={job.error} fallback={p.common.unexpected} />
      <div className="button-row">
        {canPause ? (
          <Button variant="secondary" disabled={control.isPending} onClick={() => control.mutate('pause')}>
            {p.campaigns.pause}
          </Button>
        ) : null}
        {status === 'paused' ? (
          <Button disabled={control.isPending} onClick={() => control.mutate('resume')}>
            {p.campaigns.resume}
          </Button>
        ) : null}
        {!finished ? (
          <Button variant="secondary" disabled={control.isPending} onClick={() => control.mutate('cancel')}>
            {p.campaigns.cancelCampaign}
          </Button>
        ) : null}
      </div>
      <ErrorAlert error={control.error} fallback={p.common.unexpected} />
      <dl className="details">
        <dt>{p.campaigns.template}</dt>
        <dd className="preview">{data.template}</dd>
        <dt>{p.campaigns.recipients}</dt>
        <dd>{formatNumber(data.total, language)}</dd>
        <dt>{p.campaigns.delays}</dt>
        <dd>{format(p.campaigns.delaysValue, { min: formatNumber(data.delayMinMs, language), max: formatNumber(data.delayMaxMs, language) })}</dd>
        <dt>{p.campaigns.scheduledAt}</dt>
        <dd>{data.scheduledAt ? formatDateTime(data.scheduledAt, language) : p.campaigns.now}</dd>
      </dl>
      <Recipients campaignId={campaignId} live={!finished} />
    </section>
  );
}
