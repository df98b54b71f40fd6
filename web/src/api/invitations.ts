import type { SessionView } from './auth';
import { api, unwrap, type Schemas } from './client';

/** Public: no session needed. */
export type InvitationPreview = Schemas['InvitationPreview'];

/** What an invitation link is for; the token goes in the body, never in a URL the server logs. */
export function previewInvitation(token: string): Promise<InvitationPreview> {
  return unwrap(api.POST('/api/auth/invitation', { body: { token } }));
}

/** Creates the user, uses the link up and signs the person in (the gateway sets the cookies). */
export function acceptInvitation(body: Schemas['AcceptInvitation']): Promise<SessionView> {
  return unwrap(api.POST('/api/auth/invitation/accept', { body }));
}
