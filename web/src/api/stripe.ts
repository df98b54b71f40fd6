import { isApiError, api, unwrap, type Schemas } from './client';

export type StripeSettings = Schemas['SettingsView'];
export type PutStripeSettings = Schemas['PutSettings'];

/** The tenant's Stripe settings, or `null` when none are stored (404). */
export async function getStripeSettings(): Promise<StripeSettings | null> {
  try {
    return await unwrap(api.GET('/api/stripe/settings'));
  } catch (error) {
    if (isApiError(error) && error.status === 404) return null;
    throw error;
  }
}

export function putStripeSettings(body: PutStripeSettings): Promise<StripeSettings> {
  return unwrap(api.PUT('/api/stripe/settings', { body }));
}

export function deleteStripeSettings(): Promise<Schemas['SettingsDeleted']> {
  return unwrap(api.DELETE('/api/stripe/settings'));
}
