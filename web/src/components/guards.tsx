import { createContext, useContext, type ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import type { Role, SessionView } from '../api/auth';
import { useI18n } from '../i18n';
import { hasExpired, loginPath, useSession } from '../session';
import { Loading } from './Loading';

/** Where the login page sends the person back to after signing in. */
export interface LoginRedirectState {
  from?: string;
}

/**
 * The session the guard let through, handed down by context rather than read again from the
 * query: a page that re-renders for its own reason (a sign-out finishing) could otherwise see the
 * query already emptied before the guard above it has had its turn to redirect.
 */
const SignedInContext = createContext<SessionView | null>(null);

/** Renders its children only for a signed-in browser; anyone else goes to the login page. */
export function RequireSession({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  const { t } = useI18n();
  if (session.isPending) return <Loading />;
  if (session.isError) {
    // Not "signed out" (that is a 401, answered as `null`): the gateway could not be asked.
    return (
      <p className="page-error" role="alert">
        {t.errors.loadFailed}
      </p>
    );
  }
  if (session.data === null || hasExpired(session.data)) {
    const state: LoginRedirectState = { from: `${location.pathname}${location.search}` };
    return <Navigate to={loginPath()} replace state={state} />;
  }
  return <SignedInContext.Provider value={session.data}>{children}</SignedInContext.Provider>;
}

/** The session of a page under {@link RequireSession}, which guarantees there is one. */
export function useSignedIn(): SessionView {
  const session = useContext(SignedInContext);
  if (!session) throw new Error('useSignedIn is only for pages under <RequireSession>');
  return session;
}

export function RequireRole({ roles, children }: { roles: readonly Role[]; children: ReactNode }) {
  const { user } = useSignedIn();
  const { t } = useI18n();
  if (!roles.includes(user.role)) {
    return (
      <p className="page-error" role="alert">
        {t.errors.forbidden}
      </p>
    );
  }
  return children;
}
