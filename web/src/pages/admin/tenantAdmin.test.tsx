import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import BillingPage from './BillingPage';
import BrandingPage from './BrandingPage';
import PlansPage from './PlansPage';
import UsersPage from './UsersPage';
import WebhooksPage from './WebhooksPage';

const page = (data: unknown[]) => ({ body: { success: true, data, nextCursor: null } });

function renderPage(element: React.ReactElement) {
  return renderAt('/admin', <Route path="/admin" element={element} />);
}

describe('branding', () => {
  const stored = {
    appName: 'Acme',
    logoUrl: null,
    primaryColor: '#112233',
    secondaryColor: null,
    supportEmail: null,
    supportUrl: null,
    homeHtml: null,
    customHost: null,
    customHostVerified: false,
    updatedAt: '2026-11-01T10:00:00Z',
  };

  it('previews the colours live and saves the branding; a server error lands on its field', async () => {
    let attempt = 0;
    const api = fakeApi({
      'GET /api/branding': { body: envelope(stored) },
      'PUT /api/branding': () =>
        ++attempt === 1
          ? { status: 409, body: errorBody('conflict', 'another tenant uses this host', 'customHost') }
          : { body: envelope({ ...stored, primaryColor: '#aa0000', customHost: null }) },
    });
    renderPage(<BrandingPage />);
    const user = userEvent.setup();
    const name = await screen.findByLabelText('App name');
    await waitFor(() => expect((name as HTMLInputElement).value).toBe('Acme'));
    const preview = screen.getByTestId('branding-preview');
    expect(preview.style.getPropertyValue('--preview-primary')).toBe('#112233');

    const colour = screen.getByLabelText('Main colour (optional)');
    await user.clear(colour);
    await user.type(colour, '#aa0000');
    expect(preview.style.getPropertyValue('--preview-primary')).toBe('#aa0000');
    await user.clear(name);
    await user.type(name, 'Acme Campaigns');
    expect(within(preview).getByText('Acme Campaigns')).toBeTruthy();

    await user.type(screen.getByLabelText('Custom domain (optional)'), 'app.acme.example');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('another tenant uses this host')).toBeTruthy();
    expect(screen.getByLabelText('Custom domain (optional)').getAttribute('aria-invalid')).toBe('true');

    await user.clear(screen.getByLabelText('Custom domain (optional)'));
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('The branding was saved.')).toBeTruthy();
    expect(await api.sent('PUT /api/branding')[1]?.json()).toEqual({
      appName: 'Acme Campaigns',
      logoUrl: null,
      primaryColor: '#aa0000',
      secondaryColor: null,
      supportEmail: null,
      supportUrl: null,
      customHost: null,
      homeHtml: null,
    });
  });

  it('shows the TXT record that proves a custom domain and checks it', async () => {
    const claim = {
      host: 'app.acme.example',
      status: 'pending',
      txtRecord: '_wuzapi-manager.app.acme.example',
      txtValue: 'wmv_0123456789abcdef0123456789abcdef',
      verifiedAt: null,
    };
    let checks = 0;
    const api = fakeApi({
      'GET /api/branding': { body: envelope({ ...stored, customHost: 'app.acme.example' }) },
      'GET /api/branding/custom-host': { body: envelope(claim) },
      'POST /api/branding/custom-host/verify': () =>
        ++checks === 1
          ? { status: 422, body: errorBody('validation_failed', 'no TXT record was found', 'customHost') }
          : { body: envelope({ ...claim, status: 'verified', verifiedAt: '2026-12-07T10:00:00Z' }) },
    });
    renderPage(<BrandingPage />);
    const user = userEvent.setup();
    expect(await screen.findByText('_wuzapi-manager.app.acme.example')).toBeTruthy();
    expect(screen.getByText('wmv_0123456789abcdef0123456789abcdef')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Check the record' }));
    expect(await screen.findByText('no TXT record was found')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Check the record' }));
    expect(await screen.findByText('app.acme.example is verified: your login page is served there.')).toBeTruthy();
    expect(api.sent('POST /api/branding/custom-host/verify')).toHaveLength(2);
  });

  it('refuses a colour that is not #rrggbb', async () => {
    const api = fakeApi({ 'GET /api/branding': { body: envelope(stored) } });
    renderPage(<BrandingPage />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Link colour (optional)'), 'blue');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Use a colour such as #0b6e4f.')).toBeTruthy();
    expect(api.sent('PUT /api/branding')).toHaveLength(0);
  });
});

describe('billing (Stripe settings)', () => {
  it('sets keys, shows only their hints, and removes them', async () => {
    let stored: Record<string, unknown> | null = null;
    const api = fakeApi({
      'GET /api/stripe/settings': () => (stored ? { body: envelope(stored) } : { status: 404, body: errorBody('not_found', 'no settings') }),
      'PUT /api/stripe/settings': () => {
        stored = { publishableKey: 'pk_test_1', secretKeyHint: '…abcd', webhookSecretHint: '…wxyz', updatedAt: '2026-11-01T10:00:00Z', webhookUrl: 'https://gw/api/webhooks/stripe/ten_1' };
        return { body: envelope(stored) };
      },
      'DELETE /api/stripe/settings': () => ((stored = null), { body: envelope({ deleted: true }) }),
    });
    renderPage(<BillingPage />);
    const user = userEvent.setup();
    expect(await screen.findByText('No Stripe keys are set.')).toBeTruthy();
    await user.type(screen.getByLabelText('Publishable key'), 'sk_wrong');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('A publishable key starts with pk_.')).toBeTruthy();
    expect(screen.getAllByText('This key is required.')).toHaveLength(2);

    await user.clear(screen.getByLabelText('Publishable key'));
    await user.type(screen.getByLabelText('Publishable key'), 'pk_test_1');
    await user.type(screen.getByLabelText('Secret key'), 'sk_test_secret');
    await user.type(screen.getByLabelText('Webhook signing secret'), 'whsec_123');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('The Stripe keys were saved.')).toBeTruthy();
    expect(screen.getByText('…abcd')).toBeTruthy();
    expect(screen.getByText('https://gw/api/webhooks/stripe/ten_1')).toBeTruthy();
    expect(await api.sent('PUT /api/stripe/settings')[0]?.json()).toEqual({ publishableKey: 'pk_test_1', secretKey: 'sk_test_secret', webhookSecret: 'whsec_123' });

    await user.click(screen.getByRole('button', { name: 'Remove the Stripe keys' }));
    await user.click(screen.getByRole('button', { name: 'Yes, remove them' }));
    expect(await screen.findByText('No Stripe keys are set.')).toBeTruthy();
  });
});

describe('plans', () => {
  const plan = {
    id: 'pln_1',
    name: 'Starter',
    features: ['reports'],
    quotas: { max_inboxes: 1, max_contacts: 1000, max_campaigns: null, messages_per_day: 500 },
    subscribers: 4,
    createdAt: '',
    updatedAt: '',
  };

  it('lists, creates and edits plans with quotas and features', async () => {
    const api = fakeApi({
      'GET /api/plans': page([plan]),
      'POST /api/plans': { status: 201, body: envelope({ ...plan, id: 'pln_2', name: 'Pro' }) },
      'PUT /api/plans/pln_1': { body: envelope(plan) },
    });
    renderPage(<PlansPage />);
    const user = userEvent.setup();
    const row = (await screen.findByRole('rowheader', { name: 'Starter' })).closest('tr')!;
    expect(within(row).getByText('Reports')).toBeTruthy();
    expect(within(row).getByText('Unlimited')).toBeTruthy();

    const form = screen.getByRole('heading', { name: 'New plan' }).closest('form')!;
    await user.type(within(form).getByLabelText('Name'), 'Pro');
    await user.click(within(form).getByRole('checkbox', { name: 'Webhooks' }));
    await user.type(within(form).getByLabelText('Contacts'), 'lots');
    await user.click(within(form).getByRole('button', { name: 'Create plan' }));
    expect(await within(form).findByText('Enter a whole number, or leave it empty.')).toBeTruthy();
    await user.clear(within(form).getByLabelText('Contacts'));
    await user.type(within(form).getByLabelText('Contacts'), '50000');
    await user.click(within(form).getByRole('button', { name: 'Create plan' }));
    await waitFor(() => expect(api.sent('POST /api/plans')).toHaveLength(1));
    expect(await api.sent('POST /api/plans')[0]?.json()).toEqual({
      name: 'Pro',
      features: ['webhooks'],
      quotas: { max_inboxes: null, max_contacts: 50000, max_campaigns: null, messages_per_day: null },
    });

    await user.click(screen.getByRole('button', { name: 'Edit Starter' }));
    const edit = screen.getByRole('heading', { name: 'Edit Starter' }).closest('form')!;
    expect((within(edit).getByLabelText('Messages a day') as HTMLInputElement).value).toBe('500');
    await user.click(within(edit).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(api.sent('PUT /api/plans/pln_1')).toHaveLength(1));
  });
});

describe('webhooks', () => {
  const endpoint = {
    id: 'whe_1',
    url: 'https://hooks.acme.example/wm',
    eventTypes: ['campaign.completed'],
    enabled: true,
    createdAt: '',
    updatedAt: '',
    failingSince: null,
    disabledReason: null,
    previousSecretExpiresAt: null,
  };

  it('creates an endpoint and shows its secret once; rotates it; replays a delivery', async () => {
    const api = fakeApi({
      'GET /api/webhooks/endpoints': page([endpoint]),
      'POST /api/webhooks/endpoints': { status: 201, body: envelope({ endpoint: { ...endpoint, id: 'whe_2' }, secret: 'whsec_first' }) },
      'POST /api/webhooks/endpoints/whe_1/rotate-secret': { body: envelope({ endpoint, secret: 'whsec_rotated' }) },
      'GET /api/webhooks/endpoints/whe_1/deliveries': page([
        { id: 'whd_1', endpointId: 'whe_1', eventId: 'e1', eventType: 'campaign.completed', status: 'failed', attempts: 5, lastStatus: 500, lastError: 'boom', createdAt: '', updatedAt: '' },
      ]),
      'POST /api/webhooks/deliveries/whd_1/replay': { body: envelope({ delivery: {}, job: {} }) },
    });
    renderPage(<WebhooksPage />);
    const user = userEvent.setup();
    const form = (await screen.findByRole('heading', { name: 'Add an endpoint' })).closest('form')!;
    await user.type(within(form).getByLabelText('Address (https)'), 'http://insecure');
    await user.click(within(form).getByRole('button', { name: 'Add endpoint' }));
    expect(await within(form).findByText('Enter an address that starts with https://.')).toBeTruthy();
    await user.clear(within(form).getByLabelText('Address (https)'));
    await user.type(within(form).getByLabelText('Address (https)'), 'https://hooks.acme.example/two');
    await user.click(within(form).getByRole('checkbox', { name: 'report.ready' }));
    await user.click(within(form).getByRole('button', { name: 'Add endpoint' }));
    expect(await within(form).findByText('whsec_first')).toBeTruthy();
    expect(await api.sent('POST /api/webhooks/endpoints')[0]?.json()).toEqual({
      url: 'https://hooks.acme.example/two',
      eventTypes: ['campaign.completed', 'report.ready'],
      enabled: true,
    });

    await user.click(screen.getByRole('button', { name: 'New secret' }));
    expect(await screen.findByText('whsec_rotated')).toBeTruthy();
    expect(await api.sent('POST /api/webhooks/endpoints/whe_1/rotate-secret')[0]?.json()).toEqual({ overlapSeconds: 86400 });

    await user.click(screen.getByRole('button', { name: 'Deliveries' }));
    expect(await screen.findByText('500 · boom')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Send again' }));
    expect(await screen.findByText('The delivery was queued again.')).toBeTruthy();
  });
});

describe('users and invitations', () => {
  it('lists users, invites someone and shows the link once, and withdraws an invitation', async () => {
    const api = fakeApi({
      'GET /api/users': page([{ id: 'usr_1', email: 'ana@acme.example', name: 'Ana', role: 'tenant_admin', tenantId: 'ten_1', accountId: null }]),
      'GET /api/invitations': page([
        { id: 'inv_1', email: 'bia@acme.example', name: 'Bia', role: 'user', state: 'pending', createdAt: '', expiresAt: '2026-11-03T10:00:00Z' },
      ]),
      'POST /api/invitations': (request) =>
        request.headers.get('Content-Type') === 'application/json'
          ? {
              status: 201,
              body: envelope({
                invitation: { id: 'inv_2', email: 'caio@acme.example', name: '', role: 'user', state: 'pending', createdAt: '', expiresAt: '' },
                token: 'wmi_secret',
                path: '/invite/wmi_secret',
                notice: 'shown once',
              }),
            }
          : { status: 415, body: errorBody('unsupported_media_type', 'json please') },
      'DELETE /api/invitations/inv_1': { body: envelope({}) },
    });
    document.cookie = 'wm_csrf=tok; path=/';
    renderPage(<UsersPage />);
    const user = userEvent.setup();
    expect(await screen.findByRole('rowheader', { name: 'Ana' })).toBeTruthy();
    await user.type(screen.getByLabelText('Email'), 'caio@acme.example');
    await user.click(screen.getByRole('button', { name: 'Create invitation link' }));
    expect(await screen.findByText(`${window.location.origin}/invite/wmi_secret`)).toBeTruthy();
    const [sent] = api.sent('POST /api/invitations');
    expect(sent?.headers.get('X-CSRF-Token')).toBe('tok');
    expect(await sent?.json()).toEqual({ email: 'caio@acme.example', name: '', role: 'user' });

    await user.click(screen.getByRole('button', { name: 'Withdraw the invitation of bia@acme.example' }));
    await waitFor(() => expect(api.sent('DELETE /api/invitations/inv_1')).toHaveLength(1));
  });

  it('shows the server message next to the email', async () => {
    fakeApi({
      'GET /api/users': page([]),
      'GET /api/invitations': page([]),
      'POST /api/invitations': { status: 409, body: errorBody('conflict', 'a user with this email exists', 'email') },
    });
    renderPage(<UsersPage />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Email'), 'ana@acme.example');
    await user.click(screen.getByRole('button', { name: 'Create invitation link' }));
    expect(await screen.findByText('a user with this email exists')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
  });
});
