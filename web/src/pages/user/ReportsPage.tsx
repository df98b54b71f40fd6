import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { memo, useMemo, useState, type FormEvent } from 'react';
import { listCampaigns } from '../../api/campaigns';
import { nextPageParam } from '../../api/page';
import { createReport, isReportActive, listReports, REPORT_KINDS, reportDownloadUrl, type Report, type ReportFormat, type ReportKind } from '../../api/reports';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { format, type Language } from '../../i18n';
import { formatDateTime, formatNumber, usePageText, type PageDictionary } from '../../i18n/pages';
import { isApiError } from '../../api/client';
import '../pages.css';
import { campaignsKey } from './campaignsShared';

export const reportsKey = ['reports'] as const;
export const REPORT_POLL_MS = 3000;

function CreateReportForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<ReportKind>('campaign_delivery');
  const [fileFormat, setFileFormat] = useState<ReportFormat>('csv');
  const [campaignId, setCampaignId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<'campaignId' | 'from' | 'to', string>>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const campaigns = useInfiniteQuery({
    queryKey: [...campaignsKey, { status: '' }],
    queryFn: ({ pageParam }) => listCampaigns({ cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
    enabled: kind === 'campaign_delivery',
  });
  const campaignList = useMemo(() => campaigns.data?.pages.flatMap((page) => page.items) ?? [], [campaigns.data]);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setDone(null);
    if (kind === 'campaign_delivery' && campaignId === '') {
      setFieldErrors({ campaignId: p.reports.campaignRequired });
      return;
    }
    setFieldErrors({});
    setPending(true);
    try {
      await createReport({
        kind,
        format: fileFormat,
        ...(kind === 'campaign_delivery' ? { campaignId } : {}),
        ...(from ? { from: new Date(from).toISOString() } : {}),
        ...(to ? { to: new Date(to).toISOString() } : {}),
      });
      setDone(p.reports.queued);
      await queryClient.invalidateQueries({ queryKey: reportsKey });
    } catch (error) {
      const field = isApiError(error) ? error.field : null;
      if (field === 'campaignId' || field === 'from' || field === 'to') setFieldErrors({ [field]: (error as Error).message });
      else setFailure(error);
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="report-create-title">
      <h2 id="report-create-title">{p.reports.createTitle}</h2>
      <div className="form-row">
        <SelectField label={p.reports.kind} value={kind} onChange={(event) => setKind(event.target.value as ReportKind)}>
          {REPORT_KINDS.map((value) => (
            <option key={value} value={value}>
              {p.reports.kinds[value]}
            </option>
          ))}
        </SelectField>
        <SelectField label={p.reports.format} value={fileFormat} onChange={(event) => setFileFormat(event.target.value as ReportFormat)}>
          <option value="csv">CSV</option>
          <option value="json">JSON</option>
        </SelectField>
        {kind === 'campaign_delivery' ? (
          <SelectField label={p.reports.campaign} value={campaignId} error={fieldErrors.campaignId} onChange={(event) => setCampaignId(event.target.value)}>
            <option value="">{campaigns.isPending ? p.reports.campaignLoading : p.reports.campaignChoose}</option>
            {campaignList.map((campaign) => (
              <option key={campaign.id} value={campaign.id}>
                {campaign.name}
              </option>
            ))}
          </SelectField>
        ) : null}
      </div>
      <div className="form-row">
        <TextField label={p.reports.from} type="datetime-local" value={from} error={fieldErrors.from} onChange={(event) => setFrom(event.target.value)} />
        <TextField label={p.reports.to} type="datetime-local" value={to} error={fieldErrors.to} onChange={(event) => setTo(event.target.value)} />
      </div>
      <ErrorAlert error={campaigns.error ?? failure} fallback={p.common.unexpected} />
      {done ? (
        <p className="form-success" role="status">
          {done}
        </p>
      ) : null}
      <Button type="submit" disabled={pending}>
        {pending ? p.common.creating : p.reports.submit}
      </Button>
    </form>
  );
}

function sizeText(bytes: number | null | undefined, language: Language): string {
  if (bytes === null || bytes === undefined) return '';
  return new Intl.NumberFormat(language, { style: 'unit', unit: bytes >= 1e6 ? 'megabyte' : 'kilobyte', maximumFractionDigits: 1 }).format(
    bytes >= 1e6 ? bytes / 1e6 : bytes / 1e3,
  );
}

const ReportRow = memo(function ReportRow({ report, p, language }: { report: Report; p: PageDictionary['reports']; language: Language }) {
  const name = `${p.kinds[report.kind]} (${report.format.toUpperCase()})`;
  return (
    <tr>
      <th scope="row">
        {name}
        <div className="muted">{formatDateTime(report.createdAt, language)}</div>
      </th>
      <td>
        <span className={`state state--${report.status === 'ready' ? 'good' : report.status === 'failed' || report.status === 'expired' ? 'bad' : 'warn'}`}>
          {p.status[report.status]}
        </span>
        {report.statusReason ? <div className="muted">{report.statusReason}</div> : null}
      </td>
      <td className="cell--number">{report.rows === null || report.rows === undefined ? '' : formatNumber(report.rows, language)}</td>
      <td className="cell--number">{sizeText(report.bytes, language)}</td>
      <td>{report.expiresAt ? formatDateTime(report.expiresAt, language) : ''}</td>
      <td>
        {report.status === 'ready' ? (
          <a href={reportDownloadUrl(report.id)} download aria-label={format(p.downloadName, { name })}>
            {p.download}
          </a>
        ) : null}
      </td>
    </tr>
  );
});

export default function ReportsPage() {
  const { p, language } = usePageText();
  const reports = useInfiniteQuery({
    queryKey: reportsKey,
    queryFn: ({ pageParam }) => listReports(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
    // While one is being made, the list is asked again until it is ready.
    refetchInterval: (query) => (query.state.data?.pages.some((page) => page.items.some(isReportActive)) ? REPORT_POLL_MS : false),
  });
  const rows = useMemo(() => reports.data?.pages.flatMap((page) => page.items) ?? [], [reports.data]);

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.reports.title}</h1>
      <CreateReportForm />
      <h2>{p.reports.listTitle}</h2>
      <ErrorAlert error={reports.error} fallback={p.common.unexpected} />
      {reports.isPending ? (
        <Loading />
      ) : rows.length === 0 && !reports.isError ? (
        <p>{p.reports.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.reports.report}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.reports.rows}</th>
                <th scope="col">{p.reports.size}</th>
                <th scope="col">{p.reports.expiresAt}</th>
                <th scope="col">{p.reports.file}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((report) => (
                <ReportRow key={report.id} report={report} p={p.reports} language={language} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore
        hasMore={reports.hasNextPage}
        loading={reports.isFetchingNextPage}
        onLoad={() => void reports.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
    </section>
  );
}
