import { zodResolver } from '@hookform/resolvers/zod';
import { useEffect, useMemo, useState } from 'react';
import { useForm } from 'react-hook-form';
import { Navigate, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
// zod/mini tree-shakes to the few checks used here; classic zod adds ~18 kB gzipped to this page.
import * as z from 'zod/mini';
import type { BrandingLookup } from '../api/branding';
import { isApiError, type ApiError } from '../api/client';
import { applyBranding, mayBeCustomHost, useBranding } from '../branding';
import { Button } from '../components/Button';
import type { LoginRedirectState } from '../components/guards';
import { LanguageSwitcher } from '../components/LanguageSwitcher';
import { TextField } from '../components/TextField';
import { format, useI18n, type Dictionary, type Language } from '../i18n';
import { hasExpired, useLogin, useSession } from '../session';

function loginSchema(t: Dictionary['login']) {
  return z.object({
    // The emptiness check comes first so an empty field says "enter", not "invalid".
    email: z.pipe(z.string().check(z.trim(), z.minLength(1, t.emailRequired)), z.email(t.emailInvalid)),
    password: z.string().check(z.minLength(1, t.passwordRequired)),
  });
}

type LoginValues = z.infer<ReturnType<typeof loginSchema>>;

/** "in 30 seconds", "em 2 minutos": the wait in the reader's language. */
function waitText(seconds: number, language: Language): string {
  const relative = new Intl.RelativeTimeFormat(language, { numeric: 'always' });
  if (seconds < 60) return relative.format(Math.max(1, seconds), 'second');
  if (seconds < 3600) return relative.format(Math.ceil(seconds / 60), 'minute');
  return relative.format(Math.ceil(seconds / 3600), 'hour');
}

/**
 * The form-level message for a failed sign-in. The server's own words are the most precise
 * ("wrong email or password"), so they are shown as they came, except where the client knows
 * more: how long to wait, or that the server was never reached.
 */
function describeFailure(error: ApiError, t: Dictionary['login'], language: Language): string {
  if (error.status === 429 || error.code === 'rate_limited') {
    return error.retryAfterSeconds === null
      ? t.tooManyAttemptsLater
      : format(t.tooManyAttempts, { when: waitText(error.retryAfterSeconds, language) });
  }
  if (error.code === 'network_error') return t.unreachable;
  if (error.status >= 500 || error.code === 'unexpected_response') return t.unexpected;
  return error.message;
}

/** Back to the page the guard sent the person away from: only an address of this app. */
function returnAddress(state: unknown): string {
  const from = (state as LoginRedirectState | null)?.from;
  const ownPath = typeof from === 'string' && from.startsWith('/') && !from.startsWith('//');
  return ownPath && !from.startsWith('/login') ? from : '/';
}

/** The tenant this login page is for: `?tenant=<slug>`, else whoever owns this host name. */
function useTenantLookup(): { slug: string | null; lookup: BrandingLookup | null } {
  const [params] = useSearchParams();
  const slug = params.get('tenant')?.trim().toLowerCase() || null;
  return useMemo(() => {
    const host = window.location.hostname;
    return { slug, lookup: slug ? { slug } : mayBeCustomHost(host) ? { host } : null };
  }, [slug]);
}

export default function LoginPage() {
  const { t, language } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const { slug, lookup } = useTenantLookup();
  // No tenant for this slug or host (or the lookup failed): the platform's own look.
  const branding = useBranding(lookup).data ?? null;
  const login = useLogin();
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => applyBranding(branding, t.app.name), [branding, t.app.name]);

  const schema = useMemo(() => loginSchema(t.login), [t.login]);
  const {
    register,
    handleSubmit,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<LoginValues>({ resolver: zodResolver(schema), defaultValues: { email: '', password: '' } });

  const onSubmit = handleSubmit(async ({ email, password }) => {
    setFailure(null);
    try {
      // `tenant` is left out for the platform's superadmin, who signs in without one.
      await login.mutateAsync(slug ? { tenant: slug, email, password } : { email, password });
      navigate(returnAddress(location.state), { replace: true });
    } catch (error) {
      if (!isApiError(error)) throw error;
      if (error.code === 'validation_failed' && (error.field === 'email' || error.field === 'password')) {
        setError(error.field, { message: error.message }, { shouldFocus: true });
      } else {
        setFailure(describeFailure(error, t.login, language));
      }
    }
  });

  // Already signed in (a bookmark, the back button), or just now: on to the app. Signing in
  // fills the session query, so this redirect and the one after `mutateAsync` go the same way.
  const session = useSession();
  if (session.data && !hasExpired(session.data)) return <Navigate to={returnAddress(location.state)} replace />;

  const appName = branding?.appName || t.app.name;
  return (
    <div className="login">
      <div className="login__tools">
        <LanguageSwitcher />
      </div>
      <main className="login__card">
        <header className="login__header">
          {branding?.logoUrl ? (
            // A fixed box, so the form does not jump when the logo arrives.
            <img
              className="login__logo"
              src={branding.logoUrl}
              alt={appName}
              width={64}
              height={64}
              loading="lazy"
              decoding="async"
            />
          ) : null}
          <h1>{t.login.title}</h1>
          <p className="login__subtitle">
            {slug || branding ? format(t.login.subtitle, { appName }) : t.login.platformSubtitle}
          </p>
        </header>
        <form onSubmit={onSubmit} noValidate aria-describedby={failure ? 'login-failure' : undefined}>
          <TextField
            label={t.login.email}
            type="email"
            autoComplete="username"
            inputMode="email"
            error={errors.email?.message}
            {...register('email')}
          />
          <TextField
            label={t.login.password}
            type="password"
            autoComplete="current-password"
            error={errors.password?.message}
            {...register('password')}
          />
          {failure ? (
            <p id="login-failure" className="form-error" role="alert">
              {failure}
            </p>
          ) : null}
          <Button type="submit" className="login__submit" disabled={isSubmitting}>
            {isSubmitting ? t.login.submitting : t.login.submit}
          </Button>
        </form>
        {branding?.supportEmail || branding?.supportUrl ? (
          <footer className="login__support">
            <span>{t.login.needHelp}</span>{' '}
            {branding.supportEmail ? <a href={`mailto:${branding.supportEmail}`}>{t.login.supportEmail}</a> : null}
            {branding.supportEmail && branding.supportUrl ? ' · ' : null}
            {branding.supportUrl ? (
              <a href={branding.supportUrl} rel="noopener noreferrer" target="_blank">
                {t.login.supportSite}
              </a>
            ) : null}
          </footer>
        ) : null}
      </main>
    </div>
  );
}
