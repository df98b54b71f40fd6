import { api, unwrap, type Schemas } from './client';
import { apiUrl, rawData, rawPage, type CursorPage } from './page';

export type ContactImport = Schemas['ImportView'];
export type CreatedImport = Schemas['CreatedImport'];
export type OnDuplicate = Schemas['OnDuplicate'];
export type TextEncoding = Schemas['TextEncoding'];

export interface UploadOptions {
  region: string;
  onDuplicate: OnDuplicate;
  encoding: TextEncoding;
  separator?: string;
  phoneColumn?: string;
  nameColumn?: string;
  fileName?: string;
}

// TODO(openapi): the gateway's document gives GET and POST /api/contacts/imports the operation ids
// of GET and POST /api/contacts (`contacts.list`, `contacts.create`), so openapi-typescript types
// them as the contacts endpoints. Until the ids are unique these two go through `rawRequest` with
// the document's own shapes (`Page_ImportView`, `Envelope_CreatedImport`).

/** Uploads a CSV file as the request body (`text/csv`), never reading it whole into memory. */
export function uploadImport(file: Blob, options: UploadOptions): Promise<CreatedImport> {
  return rawData<CreatedImport>('POST', '/api/contacts/imports', {
    query: { format: 'csv', ...options },
    file: { body: file, contentType: 'text/csv' },
  });
}

export function listImports(cursor?: string): Promise<CursorPage<ContactImport>> {
  return rawPage<ContactImport>('/api/contacts/imports', { limit: 50, cursor });
}

export function getImport(id: string): Promise<ContactImport> {
  return unwrap(api.GET('/api/contacts/imports/{import_id}', { params: { path: { import_id: id } } }));
}

export function cancelImport(id: string): Promise<ContactImport> {
  return unwrap(api.POST('/api/contacts/imports/{import_id}/cancel', { params: { path: { import_id: id } } }));
}

/** The rows that failed, as CSV (`line,value,reason`): a plain link, the session cookie goes along. */
export function importErrorsUrl(id: string): string {
  return apiUrl(`/api/contacts/imports/${encodeURIComponent(id)}/errors`);
}

export const isImportActive = (item: ContactImport) => item.status === 'queued' || item.status === 'running';
