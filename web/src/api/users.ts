import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type Role = Schemas['Role'];
export type UserView = Schemas['UserView'];
export type InvitationView = Schemas['InvitationView'];
export type NewInvitationView = Schemas['NewInvitationView'];
export type CreateInvitation = Schemas['CreateInvitation'];

const USER_FIELDS = everyField<UserView>({ id: true, tenantId: true, accountId: true, email: true, name: true, role: true });
const INVITATION_FIELDS = everyField<InvitationView>({
  id: true,
  accountId: true,
  email: true,
  name: true,
  role: true,
  state: true,
  createdBy: true,
  createdAt: true,
  expiresAt: true,
  acceptedAt: true,
  acceptedUserId: true,
  revokedAt: true,
});

export function listUsers(cursor?: string): Promise<CursorPage<UserView>> {
  return unwrapPage<UserView>(api.GET('/api/users', { params: { query: { limit: 100, fields: USER_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function listInvitations(cursor?: string): Promise<CursorPage<InvitationView>> {
  return unwrapPage<InvitationView>(
    api.GET('/api/invitations', { params: { query: { limit: 100, fields: INVITATION_FIELDS, ...(cursor ? { cursor } : {}) } } }),
  );
}

export function createInvitation(body: CreateInvitation): Promise<NewInvitationView> {
  return unwrap(api.POST('/api/invitations', { body }));
}

export function revokeInvitation(id: string): Promise<InvitationView> {
  return unwrap(api.DELETE('/api/invitations/{id}', { params: { path: { id } } }));
}

export async function deleteUser(id: string): Promise<void> {
  await unwrap(api.DELETE('/api/users/{user_id}', { params: { path: { user_id: id } } }));
}

