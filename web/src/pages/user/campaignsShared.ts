import type { CampaignStatus } from '../../api/campaigns';

/** Every campaigns query starts with this key. */
export const campaignsKey = ['campaigns'] as const;

export function statusClass(status: CampaignStatus): string {
  if (status === 'completed' || status === 'running') return 'state state--good';
  if (status === 'failed' || status === 'cancelled') return 'state state--bad';
  return 'state state--warn';
}
