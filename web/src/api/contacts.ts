import { api, unwrap, type Schemas } from './client';
import { unwrapPage, type CursorPage } from './page';
import type { paths } from './schema';

export type Contact = Schemas['ContactView'];
export type CreateContact = Schemas['CreateContact'];

// TODO(openapi): the gateway is adding `q` (a search over name and phone) to GET /api/contacts.
// Until schema.d.ts has it, the generated query type is widened here by that one parameter; once
// it is generated, this type can become the generated one unchanged.
type ContactsQuery = NonNullable<paths['/api/contacts']['get']['parameters']['query']> & { q?: string };

export function listContacts({ cursor, q, limit = 200 }: { cursor?: string; q?: string; limit?: number }): Promise<CursorPage<Contact>> {
  const query: ContactsQuery = { limit };
  if (cursor) query.cursor = cursor;
  if (q) query.q = q;
  return unwrapPage<Contact>(api.GET('/api/contacts', { params: { query } }));
}

export function createContact(body: CreateContact): Promise<Contact> {
  return unwrap(api.POST('/api/contacts', { body }));
}
