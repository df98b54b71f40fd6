import { api, unwrap, type Schemas } from './client';

export type PutBranding = Schemas['PutBranding'];

/** The caller's tenant's branding, as stored (tenant admins). */
export function getBranding(): Promise<Schemas['Branding']> {
  return unwrap(api.GET('/api/branding'));
}

export function putBranding(body: PutBranding): Promise<Schemas['Branding']> {
  return unwrap(api.PUT('/api/branding', { body }));
}
