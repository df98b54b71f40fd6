import { useInfiniteQuery } from '@tanstack/react-query';
import { memo, useMemo, useState } from 'react';
import { Link, Route, Routes } from 'react-router-dom';
import { CAMPAIGN_STATUSES, listCampaigns, type Campaign, type CampaignStatus } from '../../api/campaigns';
import { nextPageParam } from '../../api/page';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import type { Language } from '../../i18n';
import { formatDateTime, formatNumber, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';
import CampaignPage from './CampaignPage';
import { campaignsKey, statusClass } from './campaignsShared';
import NewCampaignPage from './NewCampaignPage';


const CampaignRow = memo(function CampaignRow({ campaign, p, language }: { campaign: Campaign; p: PageDictionary['campaigns']; language: Language }) {
  return (
    <tr>
      <th scope="row">
        <Link to={`/campaigns/${encodeURIComponent(campaign.id)}`}>{campaign.name}</Link>
      </th>
      <td>
        <span className={statusClass(campaign.status)}>{p.status[campaign.status]}</span>
      </td>
      <td className="cell--number">{formatNumber(campaign.total, language)}</td>
      <td>{formatDateTime(campaign.scheduledAt ?? campaign.startedAt ?? campaign.createdAt, language)}</td>
    </tr>
  );
});

function CampaignList() {
  const { p, language } = usePageText();
  const [status, setStatus] = useState<CampaignStatus | ''>('');
  const campaigns = useInfiniteQuery({
    queryKey: [...campaignsKey, { status }],
    queryFn: ({ pageParam }) => listCampaigns({ cursor: pageParam, status }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const rows = useMemo(() => campaigns.data?.pages.flatMap((page) => page.items) ?? [], [campaigns.data]);

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.campaigns.title}</h1>
      <div className="toolbar">
        <SelectField label={p.campaigns.statusFilter} value={status} onChange={(event) => setStatus(event.target.value as CampaignStatus | '')}>
          <option value="">{p.campaigns.allStatuses}</option>
          {CAMPAIGN_STATUSES.map((value) => (
            <option key={value} value={value}>
              {p.campaigns.status[value]}
            </option>
          ))}
        </SelectField>
        <Button asChild>
          <Link to="/campaigns/new">{p.campaigns.new}</Link>
        </Button>
      </div>
      <ErrorAlert error={campaigns.error} fallback={p.common.unexpected} />
      {campaigns.isPending ? (
        <Loading />
      ) : rows.length === 0 && !campaigns.isError ? (
        <p>{p.campaigns.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.campaigns.name}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.campaigns.recipients}</th>
                <th scope="col">{p.campaigns.when}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((campaign) => (
                <CampaignRow key={campaign.id} campaign={campaign} p={p.campaigns} language={language} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore
        hasMore={campaigns.hasNextPage}
        loading={campaigns.isFetchingNextPage}
        onLoad={() => void campaigns.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
    </section>
  );
}

export default function CampaignsPage() {
  return (
    <Routes>
      <Route index element={<CampaignList />} />
      <Route path="new" element={<NewCampaignPage />} />
      <Route path=":campaignId" element={<CampaignPage />} />
    </Routes>
  );
}
