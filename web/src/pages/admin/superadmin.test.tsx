import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import JobsPage from './JobsPage';
import TenantsPage from './TenantsPage';

const page = (data: unknown[]) => ({ body: { success: true, data, nextCursor: null } });

function renderPage(element: React.ReactElement) {
  return renderAt('/admin', <Route path="/admin" element={element} />);
}

describe('tenants', () => {
  it('lists tenants, changes a plan and adds a tenant', async () => {
    const api = fakeApi({
      'GET /api/admin/tenants': page([{ id: 'ten_1', name: 'Acme', slug: 'acme', plan: 'free', defaultAccountId: 'acc_1' }]),
      'PATCH /api/admin/tenants/ten_1': { body: envelope({ id: 'ten_1', name: 'Acme', slug: 'acme', plan: 'pro' }) },
      'POST /api/admin/tenants': (request) =>
        request.headers.get('Content-Type')?.includes('json')
          ? { status: 201, body: envelope({ id: 'ten_2', name: 'Beta', slug: 'beta', plan: 'enterprise' }) }
          : { status: 400, body: errorBody('bad_request', 'json') },
    });
    renderPage(<TenantsPage />);
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText('Platform plan of Acme'), 'pro');
    await waitFor(() => expect(api.sent('PATCH /api/admin/tenants/ten_1')).toHaveLength(1));
    expect(await api.sent('PATCH /api/admin/tenants/ten_1')[0]?.json()).toEqual({ plan: 'pro' });

    const form = screen.getByRole('heading', { name: 'Add a tenant' }).closest('form')!;
    await user.type(within(form).getByLabelText('Name'), 'Beta');
    await user.type(within(form).getByLabelText('Slug (login address)'), 'Beta Co');
    await user.click(within(form).getByRole('button', { name: 'Add tenant' }));
    expect(await within(form).findByText('Use lowercase letters, digits and hyphens, such as acme-brasil.')).toBeTruthy();
    await user.clear(within(form).getByLabelText('Slug (login address)'));
    await user.type(within(form).getByLabelText('Slug (login address)'), 'beta');
    await user.selectOptions(within(form).getByLabelText('Platform plan'), 'enterprise');
    await user.click(within(form).getByRole('button', { name: 'Add tenant' }));
    expect(await screen.findByText('Beta was added.')).toBeTruthy();
    expect(await api.sent('POST /api/admin/tenants')[0]?.json()).toEqual({ name: 'Beta', slug: 'beta', plan: 'enterprise' });
  });

  it('puts a taken slug next to its field', async () => {
    fakeApi({
      'GET /api/admin/tenants': page([]),
      'POST /api/admin/tenants': { status: 409, body: errorBody('conflict', 'the slug acme is taken', 'slug') },
    });
    renderPage(<TenantsPage />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Name'), 'Acme 2');
    await user.type(screen.getByLabelText('Slug (login address)'), 'acme');
    await user.click(screen.getByRole('button', { name: 'Add tenant' }));
    expect(await screen.findByText('the slug acme is taken')).toBeTruthy();
    expect(screen.getByLabelText('Slug (login address)').getAttribute('aria-invalid')).toBe('true');
  });
});

describe('jobs and queues', () => {
  it('shows queue counters, workers and dead jobs, and replays them', async () => {
    const api = fakeApi({
      'GET /api/jobs/queues/stats': {
        body: envelope({
          brokerAvailable: false,
          queues: [{ queue: 'campaign', waiting: 12, active: 2, completed: 1000, failed: 3, delayed: 1, deadLettered: 1, consumers: null }],
        }),
      },
      'GET /api/jobs/workers/status': page([
        { id: 'wrk_1', queue: 'campaign', host: 'worker-a', pid: 41, concurrency: 4, inFlight: 2, heartbeatMs: 5000, startedAt: '', lastHeartbeatAt: '2026-11-01T10:00:00Z' },
      ]),
      'GET /api/jobs/dead': (request) =>
        page(
          new URL(request.url).searchParams.get('queue') === 'import'
            ? []
            : [{ id: 'job_dead', queue: 'campaign', state: 'failed', attempts: 5, maxAttempts: 5, createdAt: '', error: 'WUZAPI 500' }],
        ),
      'POST /api/jobs/job_dead/replay': { body: envelope({ id: 'job_dead', queue: 'campaign', state: 'waiting' }) },
      'POST /api/jobs/dead/replay': { body: envelope({ replayed: 1 }) },
    });
    renderPage(<JobsPage />);
    const user = userEvent.setup();
    const queues = (await screen.findByRole('rowheader', { name: 'campaign' })).closest('tr')!;
    expect(within(queues).getByText('1,000')).toBeTruthy();
    expect(screen.getByText('The message broker cannot be reached: its counts are missing.')).toBeTruthy();
    expect(await screen.findByRole('rowheader', { name: 'worker-a:41' })).toBeTruthy();
    expect(await screen.findByText('WUZAPI 500')).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Run again: job job_dead' }));
    expect(await screen.findByText('The job was queued again.')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Run all again' }));
    expect(await screen.findByText('1 jobs were queued again.')).toBeTruthy();
    expect(api.sent('POST /api/jobs/dead/replay')).toHaveLength(1);

    const dead = screen.getByRole('heading', { name: 'Dead-lettered jobs' }).closest('section')!;
    await user.selectOptions(within(dead).getByLabelText('Queue'), 'import');
    expect(await within(dead).findByText('No dead-lettered jobs.')).toBeTruthy();
  });

  it('shows the server message when the stats cannot be read', async () => {
    fakeApi({
      'GET /api/jobs/queues/stats': { status: 403, body: errorBody('forbidden', 'superadmins only') },
      'GET /api/jobs/workers/status': page([]),
      'GET /api/jobs/dead': page([]),
    });
    renderPage(<JobsPage />);
    expect(await screen.findByText('superadmins only')).toBeTruthy();
  });
});
