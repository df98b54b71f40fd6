import { api, unwrap, type Schemas } from './client';

export type Branding = Schemas['Branding'];

/** The gateway takes exactly one of the two. */
export type BrandingLookup = { slug: string } | { host: string };

/** The branding a tenant's login page shows. Public: no session needed. */
export function publicBranding(lookup: BrandingLookup): Promise<Branding> {
  return unwrap(api.GET('/api/public/branding', { params: { query: lookup } }));
}
