import type { SessionView } from './auth';
import { rawData } from './page';
import type { Role } from './users';

// TODO(openapi): POST /api/auth/invitation and /api/auth/invitation/accept are in the gateway's
// newest openapi.json (`InvitationToken`, `InvitationPreview`, `AcceptInvitation`) but not yet in
// schema.d.ts; switch to `api.POST(...)` once it is regenerated. Public: no session needed.
export interface InvitationPreview {
  email: string;
  name: string;
  role: Role;
  tenantName: string;
  tenantSlug: string;
  expiresAt: string;
}

/** What an invitation link is for; the token goes in the body, never in a URL the server logs. */
export function previewInvitation(token: string): Promise<InvitationPreview> {
  return rawData<InvitationPreview>('POST', '/api/auth/invitation', { body: { token } });
}

/** Creates the user, uses the link up and signs the person in (the gateway sets the cookies). */
export function acceptInvitation(body: { token: string; password: string; name?: string }): Promise<SessionView> {
  return rawData<SessionView>('POST', '/api/auth/invitation/accept', { body });
}
