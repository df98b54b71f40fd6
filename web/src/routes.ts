/**
 * The signed-in pages: one table feeds both the router and the navigation, so a page cannot be
 * reachable without a menu entry or listed for a role that the guard would turn away.
 *
 * Every page is its own lazy import. Vite's `manualChunks` (vite.config.ts) then merges all of
 * `pages/admin/**` into `chunk-admin` and all of `pages/user/**` into `chunk-user`.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';
import type { Role } from './api/auth';
import type { Dictionary } from './i18n';

export interface AppRoute {
  /** Under `/`, without the leading slash. */
  path: string;
  label: keyof Dictionary['nav'];
  roles: readonly Role[];
  page: LazyExoticComponent<ComponentType>;
  /** The page routes the addresses under its own (`campaigns/:id`) with a nested `<Routes>`. */
  nested?: true;
}

const EVERYONE: readonly Role[] = ['superadmin', 'tenant_admin', 'user'];

export const SESSION_PATH = 'session';

export const APP_ROUTES: readonly AppRoute[] = [
  { path: SESSION_PATH, label: 'session', roles: EVERYONE, page: lazy(() => import('./pages/SessionPage')) },
  { path: 'notifications', label: 'notifications', roles: EVERYONE, page: lazy(() => import('./pages/NotificationsPage')) },
  // The platform's operator.
  { path: 'admin/tenants', label: 'tenants', roles: ['superadmin'], page: lazy(() => import('./pages/admin/TenantsPage')) },
  { path: 'admin/jobs', label: 'jobs', roles: ['superadmin'], page: lazy(() => import('./pages/admin/JobsPage')) },
  // A tenant's administrator.
  { path: 'admin/users', label: 'users', roles: ['tenant_admin'], page: lazy(() => import('./pages/admin/UsersPage')) },
  { path: 'admin/branding', label: 'branding', roles: ['tenant_admin'], page: lazy(() => import('./pages/admin/BrandingPage')) },
  { path: 'admin/plans', label: 'plans', roles: ['tenant_admin'], page: lazy(() => import('./pages/admin/PlansPage')) },
  { path: 'admin/billing', label: 'billing', roles: ['tenant_admin'], page: lazy(() => import('./pages/admin/BillingPage')) },
  { path: 'admin/webhooks', label: 'webhooks', roles: ['tenant_admin'], page: lazy(() => import('./pages/admin/WebhooksPage')) },
  // A tenant's users, who run the campaigns.
  { path: 'campaigns', label: 'campaigns', roles: ['user'], nested: true, page: lazy(() => import('./pages/user/CampaignsPage')) },
  { path: 'contacts', label: 'contacts', roles: ['user'], nested: true, page: lazy(() => import('./pages/user/ContactsPage')) },
  { path: 'inboxes', label: 'inboxes', roles: ['user'], page: lazy(() => import('./pages/user/InboxesPage')) },
  { path: 'reports', label: 'reports', roles: ['user'], page: lazy(() => import('./pages/user/ReportsPage')) },
];

export function routesFor(role: Role): readonly AppRoute[] {
  return APP_ROUTES.filter((route) => route.roles.includes(role));
}
