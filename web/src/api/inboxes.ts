import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type Inbox = Schemas['InboxView'];
export type CreateInbox = Schemas['CreateInbox'];

const INBOX_FIELDS = everyField<Inbox>({ id: true, accountId: true, name: true, wuzapiUrl: true, tokenHint: true, createdAt: true, events: true });

export function listInboxes(cursor?: string, limit = 50): Promise<CursorPage<Inbox>> {
  return unwrapPage<Inbox>(api.GET('/api/inboxes', { params: { query: { limit, fields: INBOX_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function createInbox(body: CreateInbox): Promise<Inbox> {
  return unwrap(api.POST('/api/inboxes', { body }));
}

/** Asks WUZAPI to connect the number again and sets its events up again. */
export function connectInbox(id: string): Promise<Inbox> {
  return unwrap(api.POST('/api/inboxes/{inbox_id}/connect', { params: { path: { inbox_id: id } } }));
}
