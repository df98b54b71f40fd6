import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type Endpoint = Schemas['EndpointView'];
export type EndpointWithSecret = Schemas['EndpointWithSecret'];
export type Delivery = Schemas['DeliveryView'];
export type DeliveryStatus = Schemas['DeliveryStatus'];
export type EventKind = Schemas['EventKind'];

export const EVENT_KINDS: readonly EventKind[] = [
  'campaign.started',
  'campaign.completed',
  'campaign.failed',
  'campaign.paused',
  'campaign.delivery_milestone',
  'campaign.replied',
  'import.completed',
  'import.failed',
  'report.ready',
  'quota.warning',
  'quota.reached',
  'webhook.endpoint_disabled',
  'contact.opted_out',
  'contact.opted_in',
];

const ENDPOINT_FIELDS = everyField<Endpoint>({
  id: true,
  url: true,
  description: true,
  eventTypes: true,
  enabled: true,
  disabledReason: true,
  failingSince: true,
  previousSecretExpiresAt: true,
  createdAt: true,
  updatedAt: true,
});
const DELIVERY_FIELDS = everyField<Delivery>({
  id: true,
  endpointId: true,
  eventId: true,
  eventType: true,
  status: true,
  attempts: true,
  lastStatus: true,
  lastError: true,
  nextAttemptAt: true,
  deliveredAt: true,
  createdAt: true,
  updatedAt: true,
});

const path = (id: string) => ({ params: { path: { endpoint_id: id } } });

export function listEndpoints(cursor?: string): Promise<CursorPage<Endpoint>> {
  return unwrapPage<Endpoint>(api.GET('/api/webhooks/endpoints', { params: { query: { limit: 100, fields: ENDPOINT_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function createEndpoint(body: Schemas['CreateEndpoint']): Promise<EndpointWithSecret> {
  return unwrap(api.POST('/api/webhooks/endpoints', { body }));
}

export function updateEndpoint(id: string, body: Schemas['UpdateEndpoint']): Promise<Endpoint> {
  return unwrap(api.PATCH('/api/webhooks/endpoints/{endpoint_id}', { ...path(id), body }));
}

export async function deleteEndpoint(id: string): Promise<void> {
  await unwrap(api.DELETE('/api/webhooks/endpoints/{endpoint_id}', path(id)));
}

export function rotateSecret(id: string, overlapSeconds: number | null): Promise<EndpointWithSecret> {
  return unwrap(api.POST('/api/webhooks/endpoints/{endpoint_id}/rotate-secret', { ...path(id), body: { overlapSeconds } }));
}

export function listDeliveries(id: string, { cursor, status }: { cursor?: string; status?: DeliveryStatus | '' }): Promise<CursorPage<Delivery>> {
  return unwrapPage<Delivery>(
    api.GET('/api/webhooks/endpoints/{endpoint_id}/deliveries', {
      params: { path: { endpoint_id: id }, query: { limit: 50, fields: DELIVERY_FIELDS, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } },
    }),
  );
}

export function replayDelivery(deliveryId: string): Promise<Schemas['ReplayedDelivery']> {
  return unwrap(api.POST('/api/webhooks/deliveries/{delivery_id}/replay', { params: { path: { delivery_id: deliveryId } } }));
}

/** Replays the endpoint's failed deliveries since `since`. */
export function replayFailed(id: string, since: string): Promise<Schemas['ReplayedCount']> {
  return unwrap(api.POST('/api/webhooks/endpoints/{endpoint_id}/replay', { ...path(id), body: { since } }));
}
