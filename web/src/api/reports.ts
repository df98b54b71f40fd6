import { api, unwrap, type Schemas } from './client';
import { apiUrl, everyField, unwrapPage, type CursorPage } from './page';

export type Report = Schemas['ReportView'];
export type ReportKind = Schemas['ReportKind'];
export type ReportFormat = Schemas['ReportFormat'];
export type CreateReport = Schemas['CreateReport'];

const REPORT_FIELDS = everyField<Report>({
  id: true,
  kind: true,
  format: true,
  parameters: true,
  status: true,
  statusReason: true,
  rows: true,
  bytes: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  expiresAt: true,
});

export const REPORT_KINDS: readonly ReportKind[] = ['campaign_delivery', 'contacts', 'usage', 'opt_outs'];

export function listReports(cursor?: string): Promise<CursorPage<Report>> {
  return unwrapPage<Report>(api.GET('/api/reports', { params: { query: { limit: 50, fields: REPORT_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function createReport(body: CreateReport): Promise<Schemas['CreatedReport']> {
  return unwrap(api.POST('/api/reports', { body }));
}

/** The report's file: a plain link (same origin, the session cookie goes along). */
export function reportDownloadUrl(id: string): string {
  return apiUrl(`/api/reports/${encodeURIComponent(id)}/download`);
}

export const isReportActive = (report: Report) => report.status === 'queued' || report.status === 'running';
