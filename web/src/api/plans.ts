import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type SubscriptionPlan = Schemas['SubscriptionPlan'];
export type PlanBody = Schemas['PlanBody'];
export type Feature = Schemas['Feature'];

const PLAN_FIELDS = everyField<SubscriptionPlan>({ id: true, name: true, quotas: true, features: true, subscribers: true, createdAt: true, updatedAt: true });
export type QuotaName = keyof Schemas['QuotaLimits'];

export const FEATURES: readonly Feature[] = ['bulk_campaigns', 'webhooks', 'reports', 'api_access'];
export const QUOTAS: readonly QuotaName[] = ['max_inboxes', 'max_contacts', 'max_campaigns', 'messages_per_day'];

export function listPlans(cursor?: string): Promise<CursorPage<SubscriptionPlan>> {
  return unwrapPage<SubscriptionPlan>(api.GET('/api/plans', { params: { query: { limit: 100, fields: PLAN_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function createPlan(body: PlanBody): Promise<SubscriptionPlan> {
  return unwrap(api.POST('/api/plans', { body }));
}

export function updatePlan(id: string, body: PlanBody): Promise<SubscriptionPlan> {
  return unwrap(api.PUT('/api/plans/{plan_id}', { params: { path: { plan_id: id } }, body }));
}

export async function deletePlan(id: string): Promise<void> {
  await unwrap(api.DELETE('/api/plans/{plan_id}', { params: { path: { plan_id: id } } }));
}
