import { api, unwrap, type Schemas } from './client';
import { rawPage, type CursorPage } from './page';

export type TenantView = Schemas['TenantView'];
export type PlatformPlan = Schemas['Plan'];
export const PLATFORM_PLANS: readonly PlatformPlan[] = ['free', 'pro', 'enterprise'];

/**
 * Every tenant of the platform (superadmin).
 *
 * TODO(openapi): GET /api/admin/tenants (`limit`, `cursor`, `fields`; a `Page` of `TenantView`)
 * is in the gateway's newest openapi.json but not yet in schema.d.ts; switch to
 * `api.GET('/api/admin/tenants')` once it is regenerated.
 */
export function listTenants(cursor?: string): Promise<CursorPage<TenantView>> {
  return rawPage<TenantView>('/api/admin/tenants', { limit: 100, cursor });
}

export function createTenant(body: Schemas['CreateTenant']): Promise<TenantView> {
  return unwrap(api.POST('/api/admin/tenants', { body }));
}

export function setTenantPlan(id: string, plan: PlatformPlan): Promise<TenantView> {
  return unwrap(api.PATCH('/api/admin/tenants/{tenant_id}', { params: { path: { tenant_id: id } }, body: { plan } }));
}
