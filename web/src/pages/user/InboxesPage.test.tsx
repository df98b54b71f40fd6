import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../../api/client';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import InboxesPage from './InboxesPage';

const inbox = (id: string, name: string, events: Record<string, unknown>) => ({
  id,
  accountId: 'acc_1',
  name,
  wuzapiUrl: 'https://wuzapi.example',
  tokenHint: '…abcd',
  createdAt: '2026-11-01T10:00:00Z',
  events: { configured: false, signed: false, configuredAt: null, error: null, ...events },
});

const sales = inbox('inb_1', 'Sales', { configured: true, signed: true, configuredAt: '2026-11-01T10:00:00Z' });
const support = inbox('inb_2', 'Support', { error: 'WUZAPI answered 401' });
const billing = inbox('inb_3', 'Billing', {});

function renderPage() {
  return renderAt('/inboxes', <Route path="/inboxes" element={<InboxesPage />} />);
}

describe('the WhatsApp numbers page', () => {
  it('lists numbers with their events state and loads the next cursor page', async () => {
    const api = fakeApi({
      'GET /api/inboxes': (request) =>
        new URL(request.url).searchParams.get('cursor') === 'c2'
          ? { body: { success: true, data: [billing], nextCursor: null } }
          : { body: { success: true, data: [sales, support], nextCursor: 'c2' } },
    });
    renderPage();
    expect(await screen.findByRole('rowheader', { name: 'Sales' })).toBeTruthy();
    expect(screen.getByText(/Configured, signed/)).toBeTruthy();
    expect(screen.getByText('Setup failed: WUZAPI answered 401')).toBeTruthy();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByRole('rowheader', { name: 'Billing' })).toBeTruthy();
    expect(screen.getByText('Not configured')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
    expect(api.sent('GET /api/inboxes').map((request) => new URL(request.url).searchParams.get('cursor'))).toEqual([null, 'c2']);
  });

  it('connects a number and says so', async () => {
    document.cookie = 'wm_csrf=tok; path=/';
    const api = fakeApi({
      'GET /api/inboxes': { body: { success: true, data: [support], nextCursor: null } },
      'POST /api/inboxes/inb_2/connect': { body: envelope({ ...support, events: { configured: true, signed: false, configuredAt: null, error: null } }) },
    });
    renderPage();
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Connect Support' }));
    expect(await screen.findByText(/Support was asked to connect/)).toBeTruthy();
    expect(api.sent('POST /api/inboxes/inb_2/connect')[0]?.headers.get(CSRF_HEADER)).toBe('tok');
  });

  it('shows the server message when connecting fails', async () => {
    fakeApi({
      'GET /api/inboxes': { body: { success: true, data: [support], nextCursor: null } },
      'POST /api/inboxes/inb_2/connect': { status: 502, body: errorBody('upstream_error', 'WUZAPI could not be reached') },
    });
    renderPage();
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Connect Support' }));
    expect((await screen.findByRole('alert')).textContent).toBe('WUZAPI could not be reached');
  });

  it('validates, then adds a number; a server error lands next to its field', async () => {
    let attempt = 0;
    const api = fakeApi({
      'GET /api/inboxes': { body: { success: true, data: [], nextCursor: null } },
      'POST /api/inboxes': () =>
        ++attempt === 1
          ? { status: 422, body: errorBody('validation_failed', 'this host is not allowed', 'wuzapiUrl') }
          : { status: 201, body: envelope(inbox('inb_9', 'New', {})) },
    });
    renderPage();
    const user = userEvent.setup();
    const form = (await screen.findByRole('heading', { name: 'Add a number' })).closest('form')!;
    await user.click(within(form).getByRole('button', { name: 'Add number' }));
    expect(await screen.findByText('Enter a name for this number.')).toBeTruthy();
    expect(screen.getByText('Enter the WUZAPI user token.')).toBeTruthy();
    expect(api.sent('POST /api/inboxes')).toHaveLength(0);

    await user.type(within(form).getByLabelText('Name'), 'New');
    await user.type(within(form).getByLabelText('WUZAPI user token'), 'secret-token');
    await user.type(within(form).getByLabelText('WUZAPI server address (optional)'), 'https://evil.example');
    await user.click(within(form).getByRole('button', { name: 'Add number' }));
    const urlField = within(form).getByLabelText('WUZAPI server address (optional)');
    await waitFor(() => expect(urlField.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText('this host is not allowed')).toBeTruthy();

    await user.clear(urlField);
    await user.click(within(form).getByRole('button', { name: 'Add number' }));
    expect(await screen.findByText('New was added.')).toBeTruthy();
    expect(await api.sent('POST /api/inboxes')[1]?.json()).toEqual({ name: 'New', token: 'secret-token' });
  });
});
