import { api, isApiError, unwrap, type Schemas } from './client';

export type PutBranding = Schemas['PutBranding'];

/** The caller's tenant's branding, as stored (tenant admins). */
export function getBranding(): Promise<Schemas['Branding']> {
  return unwrap(api.GET('/api/branding'));
}

export function putBranding(body: PutBranding): Promise<Schemas['Branding']> {
  return unwrap(api.PUT('/api/branding', { body }));
}

export type CustomHost = Schemas['CustomHostAnswer'];

/** The claimed custom host and the DNS TXT record that proves it; null without one. */
export async function getCustomHost(): Promise<CustomHost | null> {
  try {
    return await unwrap(api.GET('/api/branding/custom-host'));
  } catch (error) {
    if (isApiError(error) && error.status === 404) return null;
    throw error;
  }
}

/** Asks the gateway to look the TXT record up; the host is served once verified. */
export function verifyCustomHost(): Promise<CustomHost> {
  return unwrap(api.POST('/api/branding/custom-host/verify'));
}
