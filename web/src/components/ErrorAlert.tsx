import type { FieldValues, Path, UseFormSetError } from 'react-hook-form';
import { isApiError } from '../api/client';

/** The server's own words for a failed call; a generic text for anything that is not an ApiError. */
export function errorMessage(error: unknown, fallback: string): string {
  if (isApiError(error)) return error.message;
  return fallback;
}

/** A failed call's message, where the form or list that made it is. Renders nothing without one. */
export function ErrorAlert({ error, fallback, id }: { error: unknown; fallback: string; id?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <p className="form-error" role="alert" id={id}>
      {errorMessage(error, fallback)}
    </p>
  );
}

/**
 * Puts a server error next to the field it names (`field` of the error envelope) when the form
 * has that field; answers whether it did, so the caller shows it above the form otherwise.
 */
export function setServerFieldError<Values extends FieldValues>(
  error: unknown,
  fields: readonly Path<Values>[],
  setError: UseFormSetError<Values>,
): boolean {
  if (!isApiError(error) || error.field === null) return false;
  const field = fields.find((name) => name === error.field);
  if (field === undefined) return false;
  setError(field, { type: 'server', message: error.message }, { shouldFocus: true });
  return true;
}
