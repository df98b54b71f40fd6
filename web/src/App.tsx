import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { AppShell } from './components/AppShell';
import { RequireRole, RequireSession } from './components/guards';
import { Loading } from './components/Loading';
import { I18nProvider, type Language } from './i18n';
import { APP_ROUTES, SESSION_PATH } from './routes';

const LoginPage = lazy(() => import('./pages/LoginPage'));
const NotFoundPage = lazy(() => import('./pages/NotFoundPage'));
const InvitePage = lazy(() => import('./pages/InvitePage'));

/** React Router 7's behaviour, taken now: the upgrade to 7 then changes nothing. */
export const ROUTER_FUTURE = { v7_startTransition: true, v7_relativeSplatPath: true } as const;

export function AppRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/invite/:token" element={<InvitePage />} />
        {/* The shell stays in the entry chunk: making it lazy too was measured to save the login
            page nothing (its shared pieces become extra chunks) and to delay every signed-in page. */}
        <Route
          element={
            <RequireSession>
              <AppShell />
            </RequireSession>
          }
        >
          <Route index element={<Navigate to={`/${SESSION_PATH}`} replace />} />
          {APP_ROUTES.map(({ path, roles, nested, page: Page }) => (
            <Route
              key={path}
              path={nested ? `${path}/*` : path}
              element={
                <RequireRole roles={roles}>
                  <Page />
                </RequireRole>
              }
            />
          ))}
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

/** Everything a page needs from above it; tests wrap pages in the same providers. */
export function Providers({
  queryClient,
  language,
  children,
}: {
  queryClient: QueryClient;
  language: Language;
  children: ReactNode;
}) {
  return (
    <QueryClientProvider client={queryClient}>
      <I18nProvider initial={language}>{children}</I18nProvider>
    </QueryClientProvider>
  );
}

export function App({ queryClient, language }: { queryClient: QueryClient; language: Language }) {
  return (
    <Providers queryClient={queryClient} language={language}>
      <BrowserRouter future={ROUTER_FUTURE}>
        <AppRoutes />
      </BrowserRouter>
    </Providers>
  );
}
