/**
 * The browser session as server state: one TanStack Query entry that the route guard, the shell
 * and the session page all read, so signing in or out updates every one of them at once.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { currentSession, login, logout, type LoginRequest, type SessionView } from './api/auth';
import { isApiError } from './api/client';

export const sessionQueryKey = ['auth', 'session'] as const;

export function useSession() {
  return useQuery({
    queryKey: sessionQueryKey,
    queryFn: currentSession,
    // Checked again when the window regains focus (the default), so a session revoked or
    // expired elsewhere sends the person back to the login page.
    staleTime: 60_000,
  });
}

/** Whether a session is past its `expiresAt`; the gateway is the judge, this only saves a round trip. */
export function hasExpired(session: SessionView, now: number = Date.now()): boolean {
  const ends = Date.parse(session.expiresAt);
  return !Number.isNaN(ends) && ends <= now;
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: LoginRequest) => login(request),
    onSuccess: (session, request) => {
      rememberTenant(request.tenant ?? null);
      queryClient.setQueryData(sessionQueryKey, session);
    },
  });
}

/**
 * Drops everything the signed-in person could see: nothing of theirs stays in memory. The
 * session entry itself is set to `null` rather than removed, so the route guard sees "signed out"
 * at once instead of "loading" (which would render the pages without a session for a moment).
 */
export function forgetSession(queryClient: QueryClient): void {
  queryClient.setQueryData(sessionQueryKey, null);
  queryClient.removeQueries({
    predicate: ({ queryKey }) => queryKey[0] !== 'branding' && queryKey[0] !== sessionQueryKey[0],
  });
}

export function useLogout() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      try {
        await logout();
      } catch (error) {
        // Already signed out (expired or revoked): the outcome the person asked for.
        if (!(isApiError(error) && error.status === 401)) throw error;
      }
    },
    onSuccess: () => forgetSession(queryClient),
  });
}

const TENANT_KEY = 'wm_tenant';

/**
 * The tenant slug of the last sign-in, so that signing out (or a session ending) leads back to
 * that tenant's login page rather than the platform's, where its users could not sign in.
 */
export function rememberTenant(slug: string | null): void {
  try {
    if (slug === null || slug === '') window.localStorage.removeItem(TENANT_KEY);
    else window.localStorage.setItem(TENANT_KEY, slug);
  } catch {
    // Storage disabled: the login page then needs `?tenant=` in its address, as on a first visit.
  }
}

export function rememberedTenant(): string | null {
  try {
    return window.localStorage.getItem(TENANT_KEY);
  } catch {
    return null;
  }
}

/** The login page of the tenant signed in last (or the platform's). */
export function loginPath(): string {
  const tenant = rememberedTenant();
  return tenant === null ? '/login' : `/login?${new URLSearchParams({ tenant })}`;
}
