import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import ReportsPage from './ReportsPage';

const report = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'campaign_delivery',
  format: 'csv',
  parameters: { campaignId: 'cmp_1' },
  status,
  createdAt: '2026-11-01T10:00:00Z',
  rows: status === 'ready' ? 1200 : null,
  bytes: status === 'ready' ? 48_000 : null,
  expiresAt: status === 'ready' ? '2026-11-08T10:00:00Z' : null,
  statusReason: null,
  ...extra,
});

const page = (data: unknown[]) => ({ body: { success: true, data, nextCursor: null } });

function renderPage() {
  return renderAt('/reports', <Route path="/reports" element={<ReportsPage />} />);
}

describe('the reports page', () => {
  it('asks for a campaign report and polls the list until it is ready to download', async () => {
    let created = false;
    let polls = 0;
    const api = fakeApi({
      'GET /api/campaigns': page([{ id: 'cmp_1', name: 'Black Friday', status: 'completed' }]),
      'GET /api/reports': () => {
        if (!created) return page([]);
        polls += 1;
        return page([report('rep_1', polls > 1 ? 'ready' : 'running')]);
      },
      'POST /api/reports': () => {
        created = true;
        return { status: 202, body: envelope({ report: report('rep_1', 'queued'), job: { id: 'job_1', queue: 'report', state: 'queued' } }) };
      },
    });
    renderPage();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Ask for report' }));
    expect(await screen.findByText('Choose the campaign to report on.')).toBeTruthy();
    expect(api.sent('POST /api/reports')).toHaveLength(0);

    await user.selectOptions(screen.getByLabelText('Campaign'), 'cmp_1');
    await user.selectOptions(screen.getByLabelText('File format'), 'json');
    await user.click(screen.getByRole('button', { name: 'Ask for report' }));
    expect(await screen.findByText('The report is being prepared; it appears below when ready.')).toBeTruthy();
    expect(await api.sent('POST /api/reports')[0]?.json()).toEqual({ kind: 'campaign_delivery', format: 'json', campaignId: 'cmp_1' });

    const row = (await screen.findByRole('rowheader', { name: /Campaign delivery \(CSV\)/ })).closest('tr')!;
    expect(within(row).getByText('Being prepared')).toBeTruthy();
    const link = await within(row).findByRole('link', { name: 'Download Campaign delivery (CSV)' }, { timeout: 5000 });
    expect(link.getAttribute('href')).toBe('/api/reports/rep_1/download');
    expect(within(row).getByText('1,200')).toBeTruthy();
  }, 15_000);

  it('shows the server message when reports are not in the plan', async () => {
    fakeApi({
      'GET /api/campaigns': page([]),
      'GET /api/reports': page([report('rep_2', 'failed', { kind: 'contacts', statusReason: 'storage unavailable' })]),
      'POST /api/reports': { status: 403, body: errorBody('feature_not_enabled', 'your plan has no reports') },
    });
    renderPage();
    const user = userEvent.setup();
    expect(await screen.findByText('storage unavailable')).toBeTruthy();
    await user.selectOptions(screen.getByLabelText('Report'), 'contacts');
    expect(screen.queryByLabelText('Campaign')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Ask for report' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('your plan has no reports'));
  });
});
