import { api, expectNoContent, isApiError, unwrap, type Schemas } from './client';

export type LoginRequest = Schemas['LoginRequest'];
export type SessionView = Schemas['SessionView'];
export type SessionUser = Schemas['SessionUser'];
export type Role = SessionUser['role'];

/** Signs in; the gateway sets the `wm_session` and `wm_csrf` cookies on success. */
export function login(body: LoginRequest): Promise<SessionView> {
  return unwrap(api.POST('/api/auth/login', { body }));
}

/** The browser's current session, or `null` when there is none (or it ended). */
export async function currentSession(): Promise<SessionView | null> {
  try {
    return await unwrap(api.GET('/api/auth/session'));
  } catch (error) {
    if (isApiError(error) && error.status === 401) return null;
    throw error;
  }
}

export function logout(): Promise<void> {
  return expectNoContent(api.POST('/api/auth/logout'));
}
