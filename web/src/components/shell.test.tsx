import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { AppRoutes } from '../App';
import { CSRF_HEADER } from '../api/client';
import { errorBody, envelope, fakeApi } from '../test/fakeApi';
import { renderAt, Route } from '../test/render';

type Role = 'superadmin' | 'tenant_admin' | 'user';

function sessionOf(role: Role) {
  return {
    user: {
      userId: 'usr_1',
      role,
      tenantId: role === 'superadmin' ? null : 'ten_1',
      accountId: role === 'user' ? 'acc_1' : null,
      email: 'ana@acme.example',
      name: 'Ana Souza',
    },
    csrfToken: 'csrf',
    expiresAt: '2099-01-01T12:00:00Z',
  };
}

function renderApp(address: string) {
  return renderAt(address, <Route path="*" element={<AppRoutes />} />);
}

describe('the signed-in app', () => {
  it('sends a browser without a session to the login page of the last tenant', async () => {
    window.localStorage.setItem('wm_tenant', 'acme');
    fakeApi({
      'GET /api/auth/session': { status: 401, body: errorBody('unauthenticated', 'no session') },
      'GET /api/public/branding': { body: envelope({ appName: 'Acme' }) },
    });
    renderApp('/campaigns');
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/login?tenant=acme'));
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
  });

  it("shows a superadmin the platform's pages", async () => {
    fakeApi({
      'GET /api/auth/session': { body: envelope(sessionOf('superadmin')) },
      'GET /api/admin/tenants': { body: { success: true, data: [{ id: 'ten_1', name: 'Acme', slug: 'acme', plan: 'pro' }], nextCursor: null } },
    });
    renderApp('/admin/tenants');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    const links = within(nav).getAllByRole('link').map((link) => link.textContent);
    expect(links).toEqual(['Session', 'Notifications', 'Tenants', 'Jobs and queues']);
    expect(await screen.findByRole('heading', { level: 1, name: 'Tenants' })).toBeTruthy();
    expect(await screen.findByRole('rowheader', { name: 'Acme' })).toBeTruthy();
  });

  it("gives each role its own navigation, and turns away another role's page", async () => {
    fakeApi({ 'GET /api/auth/session': { body: envelope(sessionOf('user')) } });
    renderApp('/admin/tenants');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    const links = within(nav).getAllByRole('link').map((link) => link.textContent);
    expect(links).toEqual(['Session', 'Notifications', 'Campaigns', 'Contacts', 'WhatsApp numbers', 'Reports']);
    expect((await screen.findByRole('alert')).textContent).toBe('Your role does not give access to this page.');
  });

  it('opens on the session page, shows who is signed in, and signs out', async () => {
    window.localStorage.setItem('wm_tenant', 'acme');
    document.cookie = 'wm_csrf=token-123; path=/';
    const api = fakeApi({
      'GET /api/auth/session': { body: envelope(sessionOf('tenant_admin')) },
      'GET /api/public/branding': { body: envelope({ appName: 'Acme' }) },
      'POST /api/auth/logout': { status: 204 },
    });
    renderApp('/');
    expect(await screen.findByRole('heading', { name: 'Your session' })).toBeTruthy();
    expect(screen.getByTestId('address').textContent).toBe('/session');
    // The tenant's name from its branding (slug remembered at sign-in) heads the shell.
    expect(await screen.findByRole('link', { name: 'Acme' })).toBeTruthy();
    const details = document.querySelector('dl');
    expect(details?.textContent).toContain('Ana Souza');
    expect(details?.textContent).toContain('ana@acme.example');
    expect(details?.textContent).toContain('Tenant administrator');
    expect(details?.textContent).toContain('ten_1');

    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/login?tenant=acme'));
    expect(api.sent('POST /api/auth/logout')[0]?.headers.get(CSRF_HEADER)).toBe('token-123');
  });

  it('tells a missing page apart from a forbidden one', async () => {
    fakeApi({ 'GET /api/auth/session': { body: envelope(sessionOf('user')) } });
    renderApp('/no/such/page');
    expect((await screen.findByRole('alert')).textContent).toBe('There is no page at this address.');
  });
});
