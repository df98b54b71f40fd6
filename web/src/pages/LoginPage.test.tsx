import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { errorBody, envelope, fakeApi, type FakeRoutes } from '../test/fakeApi';
import { renderAt, Route } from '../test/render';
import { mayBeCustomHost } from '../branding';
import LoginPage from './LoginPage';

const acmeBranding = {
  appName: 'Acme Campaigns',
  logoUrl: '/logos/acme.png',
  primaryColor: '#ffcc00',
  secondaryColor: null,
  supportEmail: 'help@acme.example',
  supportUrl: null,
  homeHtml: null,
  customHost: null,
  updatedAt: '2026-11-01T10:00:00Z',
};

const signedIn = {
  user: { userId: 'usr_1', role: 'user', tenantId: 'ten_1', accountId: 'acc_1', email: 'ana@acme.example', name: 'Ana' },
  csrfToken: 'csrf',
  expiresAt: '2099-01-01T00:00:00Z',
};

/** The gateway a login page talks to: branding for `acme`, no session yet, and `login` as given. */
function gateway(loginAnswer: FakeRoutes[string]) {
  return fakeApi({
    'GET /api/public/branding': { body: envelope(acmeBranding) },
    'GET /api/auth/session': { status: 401, body: errorBody('unauthenticated', 'no session') },
    'POST /api/auth/login': loginAnswer,
  });
}

function renderLogin(address: Parameters<typeof renderAt>[0] = '/login?tenant=acme') {
  return renderAt(
    address,
    <>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/" element={<p>signed-in home</p>} />
      <Route path="/campaigns" element={<p>campaigns page</p>} />
    </>,
  );
}

async function fillAndSubmit(email: string, password: string) {
  const user = userEvent.setup();
  if (email) await user.type(screen.getByLabelText('Email'), email);
  if (password) await user.type(screen.getByLabelText('Password'), password);
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('the login page', () => {
  it('asks for both fields when they are empty, without calling the server', async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin();
    await fillAndSubmit('', '');
    expect(await screen.findByText('Enter your email.')).toBeTruthy();
    expect(screen.getByText('Enter your password.')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('Email').getAttribute('aria-describedby')).toBeTruthy();
    expect(api.sent('POST /api/auth/login')).toHaveLength(0);
  });

  it('rejects an invalid email, without calling the server', async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin();
    await fillAndSubmit('not-an-email', 'secret');
    expect(await screen.findByText(/Enter a valid email address/)).toBeTruthy();
    expect(screen.queryByText('Enter your password.')).toBeNull();
    expect(api.sent('POST /api/auth/login')).toHaveLength(0);
  });

  it('asks for the password when only it is empty', async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin();
    await fillAndSubmit('ana@acme.example', '');
    expect(await screen.findByText('Enter your password.')).toBeTruthy();
    expect(screen.queryByText('Enter your email.')).toBeNull();
    expect(api.sent('POST /api/auth/login')).toHaveLength(0);
  });

  it("shows the server's message for a 401", async () => {
    gateway({ status: 401, body: errorBody('unauthenticated', 'wrong email or password') });
    renderLogin();
    await fillAndSubmit('ana@acme.example', 'wrong');
    expect((await screen.findByRole('alert')).textContent).toBe('wrong email or password');
    expect(screen.getByTestId('address').textContent).toBe('/login?tenant=acme');
  });

  it('says how long to wait after too many attempts (429 with Retry-After)', async () => {
    gateway({
      status: 429,
      headers: { 'Retry-After': '30' },
      body: errorBody('rate_limited', 'too many sign-in attempts'),
    });
    renderLogin();
    await fillAndSubmit('ana@acme.example', 'secret');
    expect((await screen.findByRole('alert')).textContent).toBe('Too many sign-in attempts. Try again in 30 seconds.');
  });

  it('puts a validation error of the server next to its field', async () => {
    gateway({ status: 422, body: errorBody('validation_failed', 'this email is too long', 'email') });
    renderLogin();
    await fillAndSubmit('ana@acme.example', 'secret');
    expect(await screen.findByText('this email is too long')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
  });

  it('signs in with the tenant of ?tenant= and goes where the person was headed', async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin('/login?tenant=ACME');
    await fillAndSubmit(' ana@acme.example ', 'secret');
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/'));
    expect(await api.sent('POST /api/auth/login')[0]?.json()).toEqual({
      tenant: 'acme',
      email: 'ana@acme.example',
      password: 'secret',
    });
    expect(screen.getByText('signed-in home')).toBeTruthy();
  });

  it('returns to the page the guard sent the person away from', async () => {
    gateway({ body: envelope(signedIn) });
    renderLogin({ pathname: '/login', search: '?tenant=acme', state: { from: '/campaigns' } });
    await fillAndSubmit('ana@acme.example', 'secret');
    expect(await screen.findByText('campaigns page')).toBeTruthy();
  });

  it("wears the tenant's branding", async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin();
    const logo = await screen.findByRole('img', { name: 'Acme Campaigns' });
    expect(logo.getAttribute('width')).toBe('64');
    expect(logo.getAttribute('height')).toBe('64');
    expect(logo.getAttribute('loading')).toBe('lazy');
    expect(screen.getByText('Sign in to Acme Campaigns')).toBeTruthy();
    expect(document.documentElement.style.getPropertyValue('--brand-primary')).toBe('#ffcc00');
    // Yellow needs dark text to stay readable.
    expect(document.documentElement.style.getPropertyValue('--brand-on-primary')).toBe('#000000');
    expect(document.title).toBe('Acme Campaigns');
    expect(new URL(api.sent('GET /api/public/branding')[0]!.url).searchParams.get('slug')).toBe('acme');
  });

  it('looks a tenant up only by a host name that can be a custom domain', () => {
    expect(mayBeCustomHost('login.acme.example')).toBe(true);
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'intranet']) expect(mayBeCustomHost(host)).toBe(false);
  });

  it('on localhost without ?tenant= shows the platform\'s look, asks for no branding and sends no tenant', async () => {
    const api = gateway({ body: envelope(signedIn) });
    renderLogin('/login');
    await fillAndSubmit('root@platform.example', 'secret');
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/'));
    expect(api.sent('GET /api/public/branding')).toEqual([]);
    expect(await api.sent('POST /api/auth/login')[0]?.json()).toEqual({ email: 'root@platform.example', password: 'secret' });
  });

  it('speaks Brazilian Portuguese', async () => {
    gateway({ status: 429, headers: { 'Retry-After': '120' }, body: errorBody('rate_limited', 'slow down') });
    renderAt('/login?tenant=acme', <Route path="/login" element={<LoginPage />} />, 'pt-BR');
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Entrar' }));
    expect(await screen.findByText('Informe seu e-mail.')).toBeTruthy();
    await user.type(screen.getByLabelText('E-mail'), 'ana@acme.example');
    await user.type(screen.getByLabelText('Senha'), 'secret');
    await user.click(screen.getByRole('button', { name: 'Entrar' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Muitas tentativas de entrada. Tente novamente em 2 minutos.',
    );
  });
});
