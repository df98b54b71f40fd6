import { api, unwrap, type Schemas } from './client';
import { rawData, rawPage, type CursorPage } from './page';

export type Role = Schemas['Role'];

// TODO(openapi): GET /api/users and the /api/invitations endpoints are in the gateway's newest
// openapi.json but not yet in schema.d.ts. These local types copy the document's `UserView`,
// `InvitationView` and `NewInvitationView`; switch to `api.GET('/api/users')` etc. and
// `Schemas[...]` once schema.d.ts is regenerated.
export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  tenantId?: string | null;
  accountId?: string | null;
}

export interface InvitationView {
  id: string;
  accountId?: string | null;
  email: string;
  name: string;
  role: Role;
  /** `pending`, `accepted`, `revoked` or `expired`. */
  state: string;
  createdBy?: string | null;
  createdAt: string;
  expiresAt: string;
  acceptedAt?: string | null;
  acceptedUserId?: string | null;
  revokedAt?: string | null;
}

export interface NewInvitationView {
  invitation: InvitationView;
  /** The one-time token; shown only in this answer. */
  token: string;
  /** The web app's page that accepts it: `/invite/<token>`. */
  path: string;
  notice: string;
}

export interface CreateInvitation {
  email: string;
  name: string;
  role: 'tenant_admin' | 'user';
}

export function listUsers(cursor?: string): Promise<CursorPage<UserView>> {
  return rawPage<UserView>('/api/users', { limit: 100, cursor });
}

export function listInvitations(cursor?: string): Promise<CursorPage<InvitationView>> {
  return rawPage<InvitationView>('/api/invitations', { limit: 100, cursor });
}

export function createInvitation(body: CreateInvitation): Promise<NewInvitationView> {
  return rawData<NewInvitationView>('POST', '/api/invitations', { body });
}

export function revokeInvitation(id: string): Promise<InvitationView> {
  return rawData<InvitationView>('DELETE', `/api/invitations/${encodeURIComponent(id)}`);
}

export async function deleteUser(id: string): Promise<void> {
  await unwrap(api.DELETE('/api/users/{user_id}', { params: { path: { user_id: id } } }));
}
