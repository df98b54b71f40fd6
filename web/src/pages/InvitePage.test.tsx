import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { AppRoutes } from '../App';
import { envelope, errorBody, fakeApi } from '../test/fakeApi';
import { renderAt, Route } from '../test/render';

const preview = { email: 'caio@acme.example', name: 'Caio', role: 'user', tenantName: 'Acme', tenantSlug: 'acme', expiresAt: '2099-01-01T00:00:00Z' };
const session = {
  user: { userId: 'usr_9', role: 'user', tenantId: 'ten_1', accountId: 'acc_1', email: 'caio@acme.example', name: 'Caio' },
  csrfToken: 'csrf',
  expiresAt: '2099-01-01T12:00:00Z',
};

function renderApp(address: string) {
  return renderAt(address, <Route path="*" element={<AppRoutes />} />);
}

describe('the invitation page', () => {
  it('shows the invitation, and creates the account and signs in', async () => {
    let attempt = 0;
    const api = fakeApi({
      'POST /api/auth/invitation': { body: envelope(preview) },
      'POST /api/auth/invitation/accept': () =>
        ++attempt === 1
          ? { status: 422, body: errorBody('validation_failed', 'the password is too short', 'password') }
          : { status: 201, body: envelope(session) },
      'GET /api/auth/session': { body: envelope(session) },
      'GET /api/notifications/unread-count': { body: envelope({ unread: 0 }) },
      'GET /api/public/branding': { body: envelope({ appName: 'Acme' }) },
    });
    renderApp('/invite/wmi_abc');
    expect(await screen.findByText('You were invited to Acme.')).toBeTruthy();
    expect(await api.sent('POST /api/auth/invitation')[0]?.json()).toEqual({ token: 'wmi_abc' });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Password'), 'short');
    await user.type(screen.getByLabelText('Repeat the password'), 'other');
    await user.click(screen.getByRole('button', { name: 'Create my account' }));
    expect(await screen.findByText('The two passwords differ.')).toBeTruthy();
    await user.clear(screen.getByLabelText('Repeat the password'));
    await user.type(screen.getByLabelText('Repeat the password'), 'short');
    await user.click(screen.getByRole('button', { name: 'Create my account' }));
    expect(await screen.findByText('the password is too short')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Create my account' }));
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/session'));
    expect(window.localStorage.getItem('wm_tenant')).toBe('acme');
    expect(await api.sent('POST /api/auth/invitation/accept')[1]?.json()).toEqual({ token: 'wmi_abc', password: 'short', name: 'Caio' });
  });

  it('says why a used link does not work', async () => {
    fakeApi({ 'POST /api/auth/invitation': { status: 410, body: errorBody('gone', 'this invitation was already used') } });
    renderApp('/invite/wmi_used');
    expect((await screen.findByRole('alert')).textContent).toBe('this invitation was already used');
  });
});
