import { QueryCache, QueryClient } from '@tanstack/react-query';
import { isApiError } from './api/client';
import { forgetSession } from './session';

/** Asking again does not change a 4xx answer; only server and network failures are retried. */
function shouldRetry(failures: number, error: unknown): boolean {
  if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
  return failures < 2;
}

export function createQueryClient(): QueryClient {
  const queryClient: QueryClient = new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => {
        // Any page's query answered 401: the session ended (expired, revoked, signed out in
        // another tab). Dropping it makes the route guard send the person to the login page.
        if (isApiError(error) && error.status === 401 && query.queryKey[0] !== 'branding') {
          forgetSession(queryClient);
        }
      },
    }),
    defaultOptions: { queries: { retry: shouldRetry } },
  });
  return queryClient;
}
