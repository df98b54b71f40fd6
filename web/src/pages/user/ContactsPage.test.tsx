import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, errorBody, fakeApi } from '../../test/fakeApi';
import { renderAt, Route } from '../../test/render';
import ContactsPage from './ContactsPage';

const TOTAL = 100_000;

const contact = (index: number) => ({
  id: `con_${index}`,
  accountId: 'acc_1',
  phone: `55119${String(index).padStart(8, '0')}`,
  name: `Contact ${index + 1}`,
  fields: index % 2 ? { city: 'Recife' } : {},
  createdAt: '2026-11-01T10:00:00Z',
  updatedAt: '2026-11-01T10:00:00Z',
});

/** 100 000 contacts served in cursor pages; the cursor is the offset. */
function bigGateway(extra: Parameters<typeof fakeApi>[0] = {}) {
  return fakeApi({
    'GET /api/contacts': (request) => {
      const params = new URL(request.url).searchParams;
      const offset = Number(params.get('cursor') ?? 0);
      const limit = Number(params.get('limit'));
      const end = Math.min(TOTAL, offset + limit);
      const data = [];
      for (let index = offset; index < end; index += 1) data.push(contact(index));
      return { body: { success: true, data, nextCursor: end < TOTAL ? String(end) : null } };
    },
    ...extra,
  });
}

function renderPage() {
  return renderAt('/contacts', <Route path="/contacts/*" element={<ContactsPage />} />);
}

describe('the contacts page', () => {
  it('renders only the visible rows of a long list and fetches the next page while scrolling', async () => {
    const api = bigGateway();
    renderPage();
    const list = await screen.findByRole('list', { name: 'Contact list' });
    expect(within(list).getByText('Contact 1')).toBeTruthy();
    // 500 rows are loaded, but only a window of them is in the DOM.
    expect(within(list).getAllByRole('listitem').length).toBeLessThan(40);
    expect(screen.getByText(/500 contacts loaded so far/)).toBeTruthy();

    const viewport = screen.getByRole('region', { name: 'Contact list' });
    viewport.scrollTop = 430 * 48;
    fireEvent.scroll(viewport);
    expect(await within(list).findByText('Contact 431')).toBeTruthy();
    await waitFor(() => expect(api.sent('GET /api/contacts')).toHaveLength(2));
    expect(new URL(api.sent('GET /api/contacts')[1]!.url).searchParams.get('cursor')).toBe('500');
    expect(await screen.findByText(/1,000 contacts loaded so far/)).toBeTruthy();

    viewport.scrollTop = 950 * 48;
    fireEvent.scroll(viewport);
    expect(await within(list).findByText('Contact 951')).toBeTruthy();
    expect(within(list).queryByText('Contact 1')).toBeNull();
    expect(within(list).getAllByRole('listitem').length).toBeLessThan(40);
    const item = within(list).getByText('Contact 951').closest('[role="listitem"]');
    expect(item?.getAttribute('aria-posinset')).toBe('951');
  });

  it('sends the search box as q', async () => {
    const api = fakeApi({
      'GET /api/contacts': (request) =>
        new URL(request.url).searchParams.get('q') === 'ana'
          ? { body: { success: true, data: [{ ...contact(7), name: 'Ana Souza' }], nextCursor: null } }
          : { body: { success: true, data: [contact(0)], nextCursor: null } },
    });
    renderPage();
    await screen.findByText('Contact 1');
    await userEvent.setup().type(screen.getByLabelText('Search by name or phone'), 'ana');
    expect(await screen.findByText('Ana Souza')).toBeTruthy();
    expect(screen.getByText('1 contacts')).toBeTruthy();
    const queries = api.sent('GET /api/contacts').map((request) => new URL(request.url).searchParams.get('q'));
    expect(queries[0]).toBeNull();
    expect(queries.at(-1)).toBe('ana');
  });

  it('adds a contact with custom fields, and puts a server error next to the phone', async () => {
    let attempt = 0;
    const api = fakeApi({
      'GET /api/contacts': { body: { success: true, data: [], nextCursor: null } },
      'POST /api/contacts': () =>
        ++attempt === 1
          ? { status: 422, body: errorBody('validation_failed', 'not a valid number for BR', 'phone') }
          : { status: 201, body: envelope(contact(41)) },
    });
    renderPage();
    const user = userEvent.setup();
    const form = (await screen.findByRole('heading', { name: 'Add a contact' })).closest('form')!;
    await user.click(within(form).getByRole('button', { name: 'Add contact' }));
    expect(await within(form).findByText('Enter a phone number.')).toBeTruthy();

    await user.type(within(form).getByLabelText('Phone'), '+55 11 0000-0000');
    await user.type(within(form).getByLabelText('Name'), 'Bia');
    await user.click(within(form).getByRole('button', { name: 'Add a field' }));
    await user.type(within(form).getByLabelText('Field 1 name'), 'city');
    await user.type(within(form).getByLabelText('Field 1 value'), 'Recife');
    await user.click(within(form).getByRole('button', { name: 'Add contact' }));
    expect(await within(form).findByText('not a valid number for BR')).toBeTruthy();
    expect(within(form).getByLabelText('Phone').getAttribute('aria-invalid')).toBe('true');

    await user.click(within(form).getByRole('button', { name: 'Add contact' }));
    expect(await screen.findByText('+5511900000041 was added.')).toBeTruthy();
    expect(await api.sent('POST /api/contacts')[1]?.json()).toEqual({
      phone: '+55 11 0000-0000',
      name: 'Bia',
      fields: { city: 'Recife' },
    });
  });

  it('shows the server message when the list cannot be read', async () => {
    fakeApi({ 'GET /api/contacts': { status: 403, body: errorBody('forbidden', 'you belong to no account') } });
    renderPage();
    expect((await screen.findByRole('alert')).textContent).toBe('you belong to no account');
  });
});
