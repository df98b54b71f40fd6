import { api, unwrap, type Schemas } from './client';
import { rawPage, unwrapPage, type CursorPage } from './page';

export type Campaign = Schemas['CampaignView'];
export type CampaignStatus = Schemas['CampaignStatus'];
export type CreateCampaign = Schemas['CreateCampaign'];
export type CreatedCampaign = Schemas['CreatedCampaign'];
export type CampaignJobStatus = Schemas['CampaignJobStatus'];
export type Recipient = Schemas['RecipientView'];
export type RecipientStatus = Schemas['RecipientStatus'];

export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['queued', 'scheduled', 'running', 'paused', 'waiting_wuzapi', 'completed', 'failed', 'cancelled'];
export const RECIPIENT_STATUSES: readonly RecipientStatus[] = ['pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled', 'skipped'];

export const isCampaignFinished = (status: CampaignStatus) => status === 'completed' || status === 'failed' || status === 'cancelled';

/**
 * The tenant's campaigns, newest first as the gateway pages them.
 *
 * TODO(openapi): GET /api/campaigns (`limit`, `cursor`, `fields`, `status`; a `Page` of
 * `CampaignView`) is being added to the gateway; switch to `api.GET('/api/campaigns')` once
 * schema.d.ts has it.
 */
export function listCampaigns({ cursor, status, limit = 50 }: { cursor?: string; status?: CampaignStatus | ''; limit?: number }): Promise<CursorPage<Campaign>> {
  return rawPage<Campaign>('/api/campaigns', { limit, cursor, status });
}

export function getCampaign(id: string): Promise<Campaign> {
  return unwrap(api.GET('/api/campaigns/{campaign_id}', { params: { path: { campaign_id: id } } }));
}

export function createCampaign(body: CreateCampaign): Promise<CreatedCampaign> {
  return unwrap(api.POST('/api/campaigns', { body }));
}

export type CampaignAction = 'pause' | 'resume' | 'cancel';

export function controlCampaign(id: string, action: CampaignAction): Promise<Campaign> {
  const params = { params: { path: { campaign_id: id } } };
  if (action === 'pause') return unwrap(api.POST('/api/campaigns/{campaign_id}/pause', params));
  if (action === 'resume') return unwrap(api.POST('/api/campaigns/{campaign_id}/resume', params));
  return unwrap(api.POST('/api/campaigns/{campaign_id}/cancel', params));
}

export function campaignJobStatus(id: string): Promise<CampaignJobStatus> {
  return unwrap(api.GET('/api/jobs/campaign/{campaign_id}/status', { params: { path: { campaign_id: id } } }));
}

export function listRecipients(id: string, { cursor, status }: { cursor?: string; status?: RecipientStatus | '' }): Promise<CursorPage<Recipient>> {
  return unwrapPage<Recipient>(
    api.GET('/api/campaigns/{campaign_id}/recipients', {
      params: { path: { campaign_id: id }, query: { limit: 100, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } },
    }),
  );
}
