import { lazy, Suspense, useEffect } from 'react';
import { Link, NavLink, Outlet, useLocation } from 'react-router-dom';
import { applyBranding, useBranding } from '../branding';
import { useI18n } from '../i18n';
import { routesFor, SESSION_PATH } from '../routes';
import { rememberedTenant } from '../session';
import { useSignedIn } from './guards';
import { LanguageSwitcher } from './LanguageSwitcher';
import { Loading } from './Loading';
import { PageLoadBoundary } from './PageLoadBoundary';

// Lazy: the unread count and the live stream are not worth a byte of the login page's budget.
const NotificationBell = lazy(() => import('./NotificationBell'));

export function AppShell() {
  const { user } = useSignedIn();
  const { t } = useI18n();
  const location = useLocation();
  // A tenant's people keep its look after a reload, long after the login page that set it.
  const tenantSlug = user.role === 'superadmin' ? null : rememberedTenant();
  const branding = useBranding(tenantSlug ? { slug: tenantSlug } : null).data ?? null;
  useEffect(() => {
    if (branding) applyBranding(branding, t.app.name);
  }, [branding, t.app.name]);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t.app.skipToContent}
      </a>
      <header className="shell__header">
        <Link to="/" className="shell__brand">
          {branding?.appName || t.app.name}
        </Link>
        <div className="shell__tools">
          <PageLoadBoundary fallback={null}>
            <Suspense fallback={null}>
              <NotificationBell />
            </Suspense>
          </PageLoadBoundary>
          <LanguageSwitcher />
          <Link to={`/${SESSION_PATH}`} className="shell__user">
            {user.name || user.email}
            <span className="shell__role">{t.roles[user.role]}</span>
          </Link>
        </div>
      </header>
      <nav className="shell__nav" aria-label={t.nav.main}>
        <ul>
          {routesFor(user.role).map((route) => (
            <li key={route.path}>
              <NavLink to={`/${route.path}`}>{t.nav[route.label]}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="shell__main" tabIndex={-1}>
        {/* Keyed by address, so a page that failed to load does not keep the next one from trying. */}
        <PageLoadBoundary
          key={location.pathname}
          fallback={
            <p className="page-error" role="alert">
              {t.errors.loadFailed}
            </p>
          }
        >
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </PageLoadBoundary>
      </main>
    </div>
  );
}
