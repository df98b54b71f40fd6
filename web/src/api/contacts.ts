import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';
import type { paths } from './schema';

export type Contact = Schemas['ContactView'];
export type CreateContact = Schemas['CreateContact'];

type ContactsQuery = NonNullable<paths['/api/contacts']['get']['parameters']['query']>;

const CONTACT_FIELDS = everyField<Contact>({ id: true, accountId: true, phone: true, name: true, fields: true, createdAt: true, updatedAt: true });

export function listContacts({ cursor, q, limit = 200 }: { cursor?: string; q?: string; limit?: number }): Promise<CursorPage<Contact>> {
  const query: ContactsQuery = { limit, fields: CONTACT_FIELDS };
  if (cursor) query.cursor = cursor;
  if (q) query.q = q;
  return unwrapPage<Contact>(api.GET('/api/contacts', { params: { query } }));
}

export function createContact(body: CreateContact): Promise<Contact> {
  return unwrap(api.POST('/api/contacts', { body }));
}
