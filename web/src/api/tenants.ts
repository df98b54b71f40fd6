import { api, unwrap, type Schemas } from './client';
import { unwrapPage, type CursorPage } from './page';

export type TenantView = Schemas['TenantView'];
export type PlatformPlan = Schemas['Plan'];
export const PLATFORM_PLANS: readonly PlatformPlan[] = ['free', 'pro', 'enterprise'];

/** Every tenant of the platform (superadmin); the list's default fields are all a list item has. */
export function listTenants(cursor?: string): Promise<CursorPage<TenantView>> {
  return unwrapPage<TenantView>(api.GET('/api/admin/tenants', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
}

export function createTenant(body: Schemas['CreateTenant']): Promise<TenantView> {
  return unwrap(api.POST('/api/admin/tenants', { body }));
}

export function setTenantPlan(id: string, plan: PlatformPlan): Promise<TenantView> {
  return unwrap(api.PATCH('/api/admin/tenants/{tenant_id}', { params: { path: { tenant_id: id } }, body: { plan } }));
}
