import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import ContactsPage from './ContactsPage';

const progress = (read: number, failed = 0) => ({ read, imported: read - failed, updated: 0, skipped: 0, failed });

const anImport = (id: string, status: string, read: number, failed = 0) => ({
  id,
  status,
  format: 'csv',
  defaultRegion: 'BR',
  onDuplicate: 'update',
  bytes: 2048,
  fileName: `${id}.csv`,
  progress: progress(read, failed),
  createdAt: '2026-11-01T10:00:00Z',
  startedAt: null,
  finishedAt: null,
  statusReason: null,
});

function renderPage() {
  return renderAt('/contacts/imports', <Route path="/contacts/*" element={<ContactsPage />} />);
}

describe('the contact imports page', () => {
  it('uploads the chosen CSV as the body, with the options as query parameters', async () => {
    const api = fakeApi({
      'GET /api/contacts/imports': { body: { success: true, data: [], nextCursor: null } },
      'POST /api/contacts/imports': {
        status: 202,
        body: envelope({ import: anImport('imp_1', 'queued', 0), job: { id: 'job_1', queue: 'import', state: 'queued' } }),
      },
    });
    renderPage();
    const user = userEvent.setup();
    const form = (await screen.findByRole('heading', { name: 'Upload a CSV file' })).closest('form')!;
    await user.click(within(form).getByRole('button', { name: 'Upload and import' }));
    expect(await within(form).findByText('Choose a CSV file.')).toBeTruthy();

    await user.upload(within(form).getByLabelText('File'), new File(['phone,name\n5511999990000,Ana\n'], 'people.csv', { type: 'text/csv' }));
    await user.selectOptions(within(form).getByLabelText('When the phone already exists'), 'skip');
    await user.click(within(form).getByRole('button', { name: 'Upload and import' }));
    expect(await screen.findByText('imp_1.csv was uploaded; its import is queued.')).toBeTruthy();

    const [request] = api.sent('POST /api/contacts/imports');
    expect(request?.headers.get('Content-Type')).toBe('text/csv');
    const query = new URL(request!.url).searchParams;
    expect(query.get('region')).toBe('BR');
    expect(query.get('onDuplicate')).toBe('skip');
    expect(query.get('encoding')).toBe('utf-8');
    expect(query.get('fileName')).toBe('people.csv');
    expect(query.has('separator')).toBe(false);
  });

  it('shows the server message when the upload is refused', async () => {
    fakeApi({
      'GET /api/contacts/imports': { body: { success: true, data: [], nextCursor: null } },
      'POST /api/contacts/imports': { status: 413, body: errorBody('payload_too_large', 'the file is over 50 MB') },
    });
    renderPage();
    const user = userEvent.setup();
    await user.upload(await screen.findByLabelText('File'), new File(['x'], 'big.csv', { type: 'text/csv' }));
    await user.click(screen.getByRole('button', { name: 'Upload and import' }));
    expect((await screen.findByRole('alert')).textContent).toBe('the file is over 50 MB');
  });

  it('polls a running import until it finishes, then links its failed rows', async () => {
    let polls = 0;
    const api = fakeApi({
      'GET /api/contacts/imports': { body: { success: true, data: [anImport('imp_2', 'running', 10)], nextCursor: null } },
      'GET /api/contacts/imports/imp_2': () =>
        ++polls === 1 ? { body: envelope(anImport('imp_2', 'running', 500)) } : { body: envelope(anImport('imp_2', 'completed', 900, 3)) },
    });
    renderPage();
    const row = (await screen.findByRole('rowheader', { name: /imp_2\.csv/ })).closest('tr')!;
    expect(within(row).getByText('Running')).toBeTruthy();
    await waitFor(() => expect(within(row).getAllByText('500')).toHaveLength(2), { timeout: 4000 });
    expect(await within(row).findByText('Completed', undefined, { timeout: 4000 })).toBeTruthy();
    const link = within(row).getByRole('link', { name: 'Download failed rows of imp_2.csv (CSV)' });
    expect(link.getAttribute('href')).toBe('/api/contacts/imports/imp_2/errors');
    expect(within(row).queryByRole('button', { name: /Cancel/ })).toBeNull();
    const count = api.sent('GET /api/contacts/imports/imp_2').length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(api.sent('GET /api/contacts/imports/imp_2')).toHaveLength(count);
  }, 15_000);

  it('cancels a queued import', async () => {
    const api = fakeApi({
      'GET /api/contacts/imports': { body: { success: true, data: [anImport('imp_3', 'queued', 0)], nextCursor: null } },
      'GET /api/contacts/imports/imp_3': { body: envelope(anImport('imp_3', 'queued', 0)) },
      'POST /api/contacts/imports/imp_3/cancel': { body: envelope({ ...anImport('imp_3', 'cancelled', 0), statusReason: 'cancelled by Ana' }) },
    });
    renderPage();
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Cancel the import of imp_3.csv' }));
    expect(await screen.findByText('cancelled by Ana')).toBeTruthy();
    expect(screen.getByText('Cancelled')).toBeTruthy();
    await waitFor(() => expect(api.sent('POST /api/contacts/imports/imp_3/cancel')).toHaveLength(1));
  });
});
