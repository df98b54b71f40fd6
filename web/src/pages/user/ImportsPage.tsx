import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { memo, useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { cancelImport, getImport, importErrorsUrl, isImportActive, listImports, uploadImport, type ContactImport, type OnDuplicate, type TextEncoding } from '../../api/imports';
import { nextPageParam } from '../../api/page';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { format, type Language } from '../../i18n';
import { formatDateTime, formatNumber, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';
import { contactsKey, ContactsTabs } from './contactsShared';

export const importsKey = ['contact-imports'] as const;
/** How often a running import's progress is asked for. */
export const IMPORT_POLL_MS = 2000;

function UploadForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const fileRef = useRef<HTMLInputElement>(null);
  const [fileError, setFileError] = useState<string | undefined>();
  const [failure, setFailure] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [region, setRegion] = useState('BR');
  const [onDuplicate, setOnDuplicate] = useState<OnDuplicate>('update');
  const [encoding, setEncoding] = useState<TextEncoding>('utf-8');
  const [separator, setSeparator] = useState('');
  const [phoneColumn, setPhoneColumn] = useState('');
  const [nameColumn, setNameColumn] = useState('');
  const upload = useMutation({
    mutationFn: (file: File) =>
      uploadImport(file, { region: region.trim().toUpperCase(), onDuplicate, encoding, separator, phoneColumn: phoneColumn.trim(), nameColumn: nameColumn.trim(), fileName: file.name }),
  });

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setDone(null);
    const file = fileRef.current?.files?.[0];
    if (!file) {
      setFileError(p.imports.fileRequired);
      fileRef.current?.focus();
      return;
    }
    setFileError(undefined);
    try {
      const created = await upload.mutateAsync(file);
      setDone(format(p.imports.queued, { name: created.import.fileName ?? file.name }));
      if (fileRef.current) fileRef.current.value = '';
      await queryClient.invalidateQueries({ queryKey: importsKey });
    } catch (error) {
      setFailure(error);
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="import-upload-title">
      <h2 id="import-upload-title">{p.imports.uploadTitle}</h2>
      <p className="field__hint">{p.imports.uploadHint}</p>
      <TextField ref={fileRef} label={p.imports.file} type="file" accept=".csv,text/csv" error={fileError} />
      <div className="form-row">
        <TextField label={p.imports.region} value={region} maxLength={2} onChange={(event) => setRegion(event.target.value)} />
        <SelectField label={p.imports.onDuplicate} value={onDuplicate} onChange={(event) => setOnDuplicate(event.target.value as OnDuplicate)}>
          <option value="update">{p.imports.duplicateUpdate}</option>
          <option value="skip">{p.imports.duplicateSkip}</option>
        </SelectField>
        <SelectField label={p.imports.encoding} value={encoding} onChange={(event) => setEncoding(event.target.value as TextEncoding)}>
          <option value="utf-8">UTF-8</option>
          <option value="latin-1">Latin-1 (ISO-8859-1)</option>
        </SelectField>
      </div>
      <div className="form-row">
        <TextField label={p.imports.separator} value={separator} maxLength={1} placeholder="," onChange={(event) => setSeparator(event.target.value)} />
        <TextField label={p.imports.phoneColumn} value={phoneColumn} placeholder="phone" onChange={(event) => setPhoneColumn(event.target.value)} />
        <TextField label={p.imports.nameColumn} value={nameColumn} placeholder="name" onChange={(event) => setNameColumn(event.target.value)} />
      </div>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {done ? (
        <p className="form-success" role="status">
          {done}
        </p>
      ) : null}
      <Button type="submit" disabled={upload.isPending}>
        {upload.isPending ? p.imports.uploading : p.imports.upload}
      </Button>
    </form>
  );
}

function statusText(item: ContactImport, p: PageDictionary['imports']): string {
  return p.status[item.status];
}

/** One import; while it runs, its progress is asked for every {@link IMPORT_POLL_MS}. */
const ImportRow = memo(function ImportRow({ item, language }: { item: ContactImport; language: Language }) {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const labelId = useId();
  const live = useQuery({
    queryKey: [...importsKey, item.id],
    queryFn: () => getImport(item.id),
    initialData: item,
    refetchInterval: (query) => (query.state.data && isImportActive(query.state.data) ? IMPORT_POLL_MS : false),
    refetchIntervalInBackground: false,
    // Fresh from the list: no need to ask again on mount.
    staleTime: IMPORT_POLL_MS,
  });
  const current = live.data;
  const cancel = useMutation({
    mutationFn: () => cancelImport(item.id),
    onSuccess: (updated) => {
      queryClient.setQueryData([...importsKey, item.id], updated);
    },
  });
  const finished = !isImportActive(current);
  const wasFinished = useRef(finished);
  useEffect(() => {
    if (!finished || wasFinished.current) return;
    wasFinished.current = true;
    // New contacts arrived: the contacts list must ask again.
    void queryClient.invalidateQueries({ queryKey: contactsKey });
  }, [finished, queryClient]);
  const { progress } = current;
  const name = current.fileName || p.imports.unnamed;
  return (
    <tr>
      <th scope="row" id={labelId}>
        {name}
        <div className="muted">{formatDateTime(current.createdAt, language)}</div>
      </th>
      <td>
        <span className={`state state--${current.status === 'failed' ? 'bad' : current.status === 'completed' ? 'good' : 'warn'}`}>
          {statusText(current, p.imports)}
        </span>
        {current.statusReason ? <div className="muted">{current.statusReason}</div> : null}
        <ErrorAlert error={live.error ?? cancel.error} fallback={p.common.unexpected} />
      </td>
      <td className="cell--number">{formatNumber(progress.read, language)}</td>
      <td className="cell--number">{formatNumber(progress.imported, language)}</td>
      <td className="cell--number">{formatNumber(progress.updated, language)}</td>
      <td className="cell--number">{formatNumber(progress.skipped, language)}</td>
      <td className="cell--number">{formatNumber(progress.failed, language)}</td>
      <td>
        <div className="button-row">
          {isImportActive(current) ? (
            <Button
              variant="secondary"
              className="button--small"
              aria-label={format(p.imports.cancelName, { name })}
              disabled={cancel.isPending}
              onClick={() => cancel.mutate()}
            >
              {p.common.cancel}
            </Button>
          ) : null}
          {progress.failed > 0 ? (
            <a href={importErrorsUrl(current.id)} download aria-label={format(p.imports.errorsName, { name })}>
              {p.imports.errors}
            </a>
          ) : null}
        </div>
      </td>
    </tr>
  );
});

export default function ImportsPage() {
  const { p, language } = usePageText();
  const imports = useInfiniteQuery({
    queryKey: importsKey,
    queryFn: ({ pageParam }) => listImports(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  // The gateway lists oldest first; the newest is the one people look for.
  const rows = useMemo(() => (imports.data?.pages.flatMap((page) => page.items) ?? []).slice().reverse(), [imports.data]);

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.imports.title}</h1>
      <ContactsTabs />
      <UploadForm />
      <h2>{p.imports.listTitle}</h2>
      <ErrorAlert error={imports.error} fallback={p.common.unexpected} />
      {imports.isPending ? (
        <Loading />
      ) : rows.length === 0 && !imports.isError ? (
        <p>{p.imports.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.imports.file}</th>
                <th scope="col">{p.common.status}</th>
                <th scope="col">{p.imports.read}</th>
                <th scope="col">{p.imports.imported}</th>
                <th scope="col">{p.imports.updated}</th>
                <th scope="col">{p.imports.skipped}</th>
                <th scope="col">{p.imports.failed}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((item) => (
                <ImportRow key={item.id} item={item} language={language} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore
        hasMore={imports.hasNextPage}
        loading={imports.isFetchingNextPage}
        onLoad={() => void imports.fetchNextPage()}
        label={p.common.loadMore}
        loadingLabel={p.common.loadingMore}
      />
    </section>
  );
}
