import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi, type FakeRoutes } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import CampaignsPage from './CampaignsPage';

const campaign = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  id,
  inboxId: 'inb_1',
  name: `Campaign ${id}`,
  template: '{Hi|Hello} {{name}}',
  status,
  total: 3,
  delayMinMs: 3000,
  delayMaxMs: 8000,
  audience: 'everyone',
  createdAt: '2026-11-01T10:00:00Z',
  scheduledAt: null,
  startedAt: null,
  finishedAt: null,
  statusReason: null,
  ...extra,
});

const page = (data: unknown[], nextCursor: string | null = null) => ({ body: { success: true, data, nextCursor } });

const contacts = [
  { id: 'con_1', accountId: 'acc_1', phone: '5511911111111', name: 'Ana', fields: { city: 'Recife' }, createdAt: '', updatedAt: '' },
  { id: 'con_2', accountId: 'acc_1', phone: '5511922222222', name: 'Bruno', fields: {}, createdAt: '', updatedAt: '' },
];

const inbox = { id: 'inb_1', accountId: 'acc_1', name: 'Sales', wuzapiUrl: 'https://w', tokenHint: '…abcd', createdAt: '', events: { configured: true, signed: true } };

function renderPage(address: string) {
  return renderAt(address, <Route path="/campaigns/*" element={<CampaignsPage />} />);
}

const progress = (percent: number, sent: number) => ({
  sent,
  failed: 0,
  uncertain: 0,
  pending: 3 - sent,
  sending: 0,
  cancelled: 0,
  skipped: 0,
  total: 3,
  percent,
  delivered: sent,
  read: 0,
  replied: 0,
  rates: {},
});

const jobStatus = (status: string, percent: number, sent: number) => ({
  campaignId: 'cmp_1',
  campaignStatus: status,
  jobId: 'job_1',
  queue: 'campaign',
  state: 'running',
  attempts: 1,
  maxAttempts: 5,
  progress: progress(percent, sent),
  createdAt: '2026-11-01T10:00:00Z',
});

describe('the campaigns list', () => {
  it('lists campaigns and filters them by status', async () => {
    const api = fakeApi({
      'GET /api/campaigns': (request) =>
        new URL(request.url).searchParams.get('status') === 'paused'
          ? page([campaign('cmp_2', 'paused')])
          : page([campaign('cmp_1', 'running'), campaign('cmp_2', 'paused')]),
    });
    renderPage('/campaigns');
    expect(await screen.findByRole('link', { name: 'Campaign cmp_1' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'New campaign' }).getAttribute('href')).toBe('/campaigns/new');
    await userEvent.setup().selectOptions(screen.getByLabelText('Status'), 'paused');
    await waitFor(() => expect(screen.queryByRole('link', { name: 'Campaign cmp_1' })).toBeNull());
    expect(screen.getByRole('link', { name: 'Campaign cmp_2' }).getAttribute('href')).toBe('/campaigns/cmp_2');
    expect(new URL(api.sent('GET /api/campaigns').at(-1)!.url).searchParams.get('status')).toBe('paused');
  });
});

describe('the new campaign form', () => {
  function gateway(create: FakeRoutes[string]) {
    return fakeApi({
      'GET /api/inboxes': page([inbox]),
      'GET /api/contacts': page(contacts),
      'POST /api/campaigns': create,
      'GET /api/campaigns/cmp_9': { body: envelope(campaign('cmp_9', 'queued')) },
      'GET /api/jobs/campaign/cmp_9/status': { body: envelope(jobStatus('queued', 0, 0)) },
      'GET /api/campaigns/cmp_9/recipients': page([]),
    });
  }

  it('validates, previews the template for a picked contact, and creates the campaign', async () => {
    let attempt = 0;
    const api = gateway(() =>
      ++attempt === 1
        ? { status: 422, body: errorBody('validation_failed', 'unknown variable {{plan}}', 'template') }
        : { status: 201, body: envelope({ campaign: campaign('cmp_9', 'queued'), job: { id: 'job_9', queue: 'campaign', state: 'queued' } }) },
    );
    renderPage('/campaigns/new');
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Create campaign' }));
    expect(await screen.findByText('Enter a name for the campaign.')).toBeTruthy();
    expect(screen.getByText('Choose the number that sends the messages.')).toBeTruthy();
    expect(screen.getByText('Write the message.')).toBeTruthy();

    await user.type(screen.getByLabelText('Name'), 'Black Friday');
    await user.selectOptions(screen.getByLabelText('WhatsApp number'), 'inb_1');
    // userEvent reads `{` as a key descriptor: `{{` types one brace.
    await user.type(screen.getByLabelText('Message'), '{{Hi|Hello} {{{{name}} from {{{{city|home}}!');
    const preview = screen.getByTestId('preview');
    expect(preview.textContent).toBe('Hi Ana from home!');

    await user.click(await screen.findByRole('checkbox', { name: /Bruno/ }));
    await user.click(screen.getByRole('checkbox', { name: /Ana/ }));
    expect(screen.getByText('2 contacts selected')).toBeTruthy();
    expect(preview.textContent).toBe('Hi Bruno from home!');
    await user.selectOptions(screen.getByLabelText('Preview for'), 'con_1');
    await user.selectOptions(screen.getByLabelText('Variant'), '1');
    expect(preview.textContent).toBe('Hello Ana from Recife!');

    await user.clear(screen.getByLabelText('Longest pause between messages (ms)'));
    await user.type(screen.getByLabelText('Longest pause between messages (ms)'), '1000');
    await user.click(screen.getByRole('button', { name: 'Create campaign' }));
    expect(await screen.findByText('The longest pause must be at least the shortest one.')).toBeTruthy();
    expect(api.sent('POST /api/campaigns')).toHaveLength(0);

    await user.clear(screen.getByLabelText('Longest pause between messages (ms)'));
    await user.type(screen.getByLabelText('Longest pause between messages (ms)'), '9000');
    await user.click(screen.getByRole('button', { name: 'Create campaign' }));
    expect(await screen.findByText('unknown variable {{plan}}')).toBeTruthy();
    expect(screen.getByLabelText('Message').getAttribute('aria-invalid')).toBe('true');

    await user.click(screen.getByRole('button', { name: 'Create campaign' }));
    await waitFor(() => expect(screen.getByTestId('address').textContent).toBe('/campaigns/cmp_9'));
    expect(await api.sent('POST /api/campaigns')[1]?.json()).toEqual({
      name: 'Black Friday',
      inboxId: 'inb_1',
      audience: 'everyone',
      template: '{Hi|Hello} {{name}} from {{city|home}}!',
      contactIds: ['con_2', 'con_1'],
      delayMinMs: 3000,
      delayMaxMs: 9000,
    });
  });

  it('asks for recipients and shows a server error that names no field above the button', async () => {
    const api = gateway({ status: 403, body: errorBody('quota_exceeded', 'your plan allows 1000 messages a day') });
    renderPage('/campaigns/new');
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Name'), 'Promo');
    await user.selectOptions(screen.getByLabelText('WhatsApp number'), 'inb_1');
    await user.type(screen.getByLabelText('Message'), 'Hi');
    await user.click(screen.getByRole('button', { name: 'Create campaign' }));
    expect(await screen.findByText('Pick at least one contact.')).toBeTruthy();
    expect(api.sent('POST /api/campaigns')).toHaveLength(0);
    await user.click(screen.getByRole('button', { name: 'Select the 2 shown' }));
    await user.click(screen.getByRole('button', { name: 'Create campaign' }));
    expect(await screen.findByText('your plan allows 1000 messages a day')).toBeTruthy();
  });
});

describe('picking recipients', () => {
  it('selects every matching contact across cursor pages', async () => {
    fakeApi({
      'GET /api/inboxes': page([inbox]),
      'GET /api/contacts': (request) => {
        const cursor = Number(new URL(request.url).searchParams.get('cursor') ?? 0);
        const data = Array.from({ length: 500 }, (_, index) => ({ ...contacts[0]!, id: `con_${cursor + index}`, name: `C${cursor + index}` }));
        return page(data, cursor + 500 < 1500 ? String(cursor + 500) : null);
      },
    });
    renderPage('/campaigns/new');
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Select every matching contact' }));
    expect(await screen.findByText('1,500 contacts selected')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Select every matching contact' })).toBeNull();
  });
});

describe('a campaign page', () => {
  it('polls progress until the campaign finishes', async () => {
    let polls = 0;
    const api = fakeApi({
      'GET /api/campaigns/cmp_1': () => ({ body: envelope(campaign('cmp_1', polls >= 2 ? 'completed' : 'running')) }),
      'GET /api/jobs/campaign/cmp_1/status': () => {
        polls += 1;
        return { body: envelope(polls >= 2 ? jobStatus('completed', 100, 3) : jobStatus('running', 33, 1)) };
      },
      'GET /api/campaigns/cmp_1/recipients': page([
        { id: 'rec_1', phone: '5511911111111', status: 'sent', messageId: 'm1', deliveredAt: '2026-11-01T10:01:00Z', error: null },
      ]),
    });
    renderPage('/campaigns/cmp_1');
    expect(await screen.findByRole('heading', { level: 1, name: 'Campaign cmp_1' })).toBeTruthy();
    expect(await screen.findByText('33% done')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Pause' })).toBeTruthy();
    expect(await screen.findByText('100% done', undefined, { timeout: 4000 })).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Pause' })).toBeNull());
    expect(screen.queryByRole('button', { name: 'Cancel campaign' })).toBeNull();
    expect(screen.getByText('+5511911111111')).toBeTruthy();
    const count = api.sent('GET /api/jobs/campaign/cmp_1/status').length;
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(api.sent('GET /api/jobs/campaign/cmp_1/status')).toHaveLength(count);
  }, 15_000);

  it('pauses, resumes and cancels, and filters recipients by status', async () => {
    let state = 'running';
    const api = fakeApi({
      'GET /api/campaigns/cmp_1': () => ({ body: envelope(campaign('cmp_1', state)) }),
      'GET /api/jobs/campaign/cmp_1/status': () => ({ body: envelope(jobStatus(state, 33, 1)) }),
      'POST /api/campaigns/cmp_1/pause': () => ((state = 'paused'), { body: envelope(campaign('cmp_1', 'paused')) }),
      'POST /api/campaigns/cmp_1/resume': () => ((state = 'running'), { body: envelope(campaign('cmp_1', 'running')) }),
      'POST /api/campaigns/cmp_1/cancel': { status: 409, body: errorBody('conflict', 'the campaign already finished') },
      'GET /api/campaigns/cmp_1/recipients': (request) =>
        new URL(request.url).searchParams.get('status') === 'failed'
          ? page([{ id: 'rec_2', phone: '5511922222222', status: 'failed', messageId: '', error: 'not on WhatsApp' }])
          : page([]),
    });
    renderPage('/campaigns/cmp_1');
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Pause' }));
    await user.click(await screen.findByRole('button', { name: 'Resume' }));
    await user.click(await screen.findByRole('button', { name: 'Pause' }));
    expect(api.sent('POST /api/campaigns/cmp_1/pause')).toHaveLength(2);
    expect(api.sent('POST /api/campaigns/cmp_1/resume')).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: 'Cancel campaign' }));
    expect(await screen.findByText('the campaign already finished')).toBeTruthy();

    const recipients = screen.getByRole('heading', { name: 'Recipients' }).closest('section')!;
    await user.selectOptions(within(recipients).getByLabelText('Status'), 'failed');
    expect(await within(recipients).findByText('not on WhatsApp')).toBeTruthy();
  });

  it('shows the server message for a campaign that cannot be read', async () => {
    fakeApi({ 'GET /api/campaigns/nope': { status: 404, body: errorBody('not_found', 'no such campaign') } });
    renderPage('/campaigns/nope');
    expect((await screen.findByRole('alert')).textContent).toBe('no such campaign');
  });
});
