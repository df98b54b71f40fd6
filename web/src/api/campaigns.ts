import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

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

const CAMPAIGN_FIELDS = everyField<Campaign>({
  id: true,
  inboxId: true,
  name: true,
  template: true,
  status: true,
  statusReason: true,
  total: true,
  delayMinMs: true,
  delayMaxMs: true,
  scheduledAt: true,
  audience: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
});
const RECIPIENT_FIELDS = everyField<Recipient>({
  id: true,
  contactId: true,
  phone: true,
  status: true,
  error: true,
  messageId: true,
  sentAt: true,
  deliveredAt: true,
  readAt: true,
  repliedAt: true,
});

/** The tenant's campaigns, newest first as the gateway pages them. */
export function listCampaigns({ cursor, status, limit = 50 }: { cursor?: string; status?: CampaignStatus | ''; limit?: number }): Promise<CursorPage<Campaign>> {
  return unwrapPage<Campaign>(
    api.GET('/api/campaigns', { params: { query: { limit, fields: CAMPAIGN_FIELDS, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } } }),
  );
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
      params: { path: { campaign_id: id }, query: { limit: 100, fields: RECIPIENT_FIELDS, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } },
    }),
  );
}
