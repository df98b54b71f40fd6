import { api, unwrap, type Schemas } from './client';
import { apiUrl, everyField, rawData, unwrapPage, type CursorPage } from './page';

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

const IMPORT_FIELDS = everyField<ContactImport>({
  id: true,
  status: true,
  statusReason: true,
  format: true,
  defaultRegion: true,
  onDuplicate: true,
  fileName: true,
  bytes: true,
  progress: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
});

/**
 * Uploads a CSV file as the request body (`text/csv`), never reading it whole into memory: the
 * generated client would serialise the body, so the file goes through `rawData` as it is.
 */
export function uploadImport(file: Blob, options: UploadOptions): Promise<CreatedImport> {
  return rawData<CreatedImport>('POST', '/api/contacts/imports', {
    query: { format: 'csv', ...options },
    file: { body: file, contentType: 'text/csv' },
  });
}

export function listImports(cursor?: string): Promise<CursorPage<ContactImport>> {
  return unwrapPage<ContactImport>(
    api.GET('/api/contacts/imports', { params: { query: { limit: 50, fields: IMPORT_FIELDS, ...(cursor ? { cursor } : {}) } } }),
  );
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
