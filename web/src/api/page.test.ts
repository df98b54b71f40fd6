import { describe, expect, it } from 'vitest';
import { fakeApi } from '../test/fakeApi';
import { listCampaigns, listRecipients } from './campaigns';
import { listContacts } from './contacts';
import { listImports } from './imports';
import { listInboxes } from './inboxes';
import { listDeadJobs, listWorkers } from './jobs';
import { listNotifications } from './notifications';
import { everyField } from './page';
import { listPlans } from './plans';
import { listReports } from './reports';
import { listInvitations, listUsers } from './users';
import { listDeliveries, listEndpoints } from './webhooks';

const emptyPage = { body: { success: true, data: [], nextCursor: null } };

describe('lists', () => {
  it('everyField names each key once, in order', () => {
    expect(everyField<{ id: string; name?: string | null }>({ id: true, name: true })).toBe('id,name');
  });

  // The gateway answers a short default projection (`id`, `name`, ...) unless `fields` names
  // more; the pages show whole items, so every list they use must ask for every field.
  it.each([
    ['GET /api/inboxes', () => listInboxes()],
    ['GET /api/contacts', () => listContacts({})],
    ['GET /api/contacts/imports', () => listImports()],
    ['GET /api/campaigns', () => listCampaigns({})],
    ['GET /api/campaigns/c1/recipients', () => listRecipients('c1', {})],
    ['GET /api/reports', () => listReports()],
    ['GET /api/notifications', () => listNotifications({})],
    ['GET /api/plans', () => listPlans()],
    ['GET /api/webhooks/endpoints', () => listEndpoints()],
    ['GET /api/webhooks/endpoints/e1/deliveries', () => listDeliveries('e1', {})],
    ['GET /api/users', () => listUsers()],
    ['GET /api/invitations', () => listInvitations()],
    ['GET /api/jobs/workers/status', () => listWorkers()],
    ['GET /api/jobs/dead', () => listDeadJobs({})],
  ])('%s asks for every field', async (route, list) => {
    const api = fakeApi({ [route]: emptyPage });
    await list();
    const [request] = api.sent(route);
    const fields = new URL(request!.url).searchParams.get('fields') ?? '';
    expect(fields.split(',').length).toBeGreaterThan(3);
    expect(fields.split(',')).toContain('id');
  });
});
