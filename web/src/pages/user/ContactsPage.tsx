import { zodResolver } from '@hookform/resolvers/zod';
import { useQueryClient } from '@tanstack/react-query';
import { memo, useCallback, useId, useMemo, useState } from 'react';
import { useForm } from 'react-hook-form';
import { Route, Routes } from 'react-router-dom';
import * as z from 'zod/mini';
import { isApiError } from '../../api/client';
import { createContact, type Contact, type CreateContact } from '../../api/contacts';
import { Button } from '../../components/Button';
import { ErrorAlert, setServerFieldError } from '../../components/ErrorAlert';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { VirtualList } from '../../components/VirtualList';
import { format } from '../../i18n';
import { formatNumber, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';
import { contactsKey, ContactsTabs, useContacts, useDebounced } from './contactsShared';
import ImportsPage from './ImportsPage';

const ROW_HEIGHT = 48;
/** Fetch the next page when the reader is this many rows from the end of what is loaded. */
const PREFETCH_ROWS = 100;

export function fieldsText(fields: Contact['fields']): string {
  return Object.entries(fields as Record<string, unknown>)
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(' · ');
}

const ContactRow = memo(function ContactRow({ contact }: { contact: Contact }) {
  return (
    <div className="contact-row">
      <span>{contact.name || '—'}</span>
      <span>+{contact.phone}</span>
      <span className="muted">{fieldsText(contact.fields)}</span>
    </div>
  );
});

// Only the zod/mini pieces the login page already uses, plus `refine`: zod's modules sit in
// vendor-forms, which the login route loads, so every other kind of check would grow it.
function contactSchema(p: PageDictionary['contacts']) {
  return z.object({
    phone: z.string().check(z.trim(), z.minLength(1, p.phoneRequired), z.refine((value) => PHONE.test(value), p.phoneInvalid)),
    name: z.string().check(z.trim()),
  });
}
type ContactValues = z.infer<ReturnType<typeof contactSchema>>;
const PHONE = /^\+?[\d\s().-]{6,}$/;
const FIELD_NAME = /^[A-Za-z_][\w.-]*$/;

/** A custom field being typed: kept outside the form library, as a plain list. */
interface Pair {
  id: number;
  key: string;
  value: string;
}

function CreateContactForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const [failure, setFailure] = useState<unknown>(null);
  const [fieldsError, setFieldsError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [pairs, setPairs] = useState<Pair[]>([]);
  const [nextId, setNextId] = useState(1);
  const schema = useMemo(() => contactSchema(p.contacts), [p.contacts]);
  const fieldsId = useId();
  const {
    register,
    handleSubmit,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = useForm<ContactValues>({ resolver: zodResolver(schema), defaultValues: { phone: '', name: '' } });

  const setPair = (id: number, change: Partial<Pair>) =>
    setPairs((list) => list.map((pair) => (pair.id === id ? { ...pair, ...change } : pair)));
  const badKeys = new Set(pairs.filter((pair) => pair.key.trim() !== '' && !FIELD_NAME.test(pair.key.trim())).map((pair) => pair.id));
  const [showKeyErrors, setShowKeyErrors] = useState(false);

  const onSubmit = handleSubmit(async ({ phone, name }) => {
    setFailure(null);
    setFieldsError(null);
    setDone(null);
    setShowKeyErrors(true);
    if (badKeys.size > 0) return;
    const fields = pairs.filter((pair) => pair.key.trim() !== '').map((pair) => [pair.key.trim(), pair.value] as const);
    try {
      const contact = await createContact({
        phone,
        ...(name ? { name } : {}),
        // The document types `fields` as an object without properties (`Record<string, never>`);
        // the gateway takes text, number and boolean values.
        ...(fields.length > 0 ? { fields: Object.fromEntries(fields) as CreateContact['fields'] } : {}),
      });
      reset();
      setPairs([]);
      setShowKeyErrors(false);
      setDone(format(p.contacts.created, { phone: `+${contact.phone}` }));
      await queryClient.invalidateQueries({ queryKey: contactsKey });
    } catch (error) {
      if (setServerFieldError<ContactValues>(error, ['phone', 'name'], setError)) return;
      // `fields` or `fields.<name>`: shown by the custom fields.
      if (isApiError(error) && error.field?.startsWith('fields')) setFieldsError(error.message);
      else setFailure(error);
    }
  });

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="contact-create-title">
      <h2 id="contact-create-title">{p.contacts.createTitle}</h2>
      <div className="form-row">
        <TextField
          label={p.contacts.phone}
          type="tel"
          autoComplete="off"
          placeholder="+55 11 99999-9999"
          error={errors.phone?.message}
          {...register('phone')}
        />
        <TextField label={p.contacts.name} autoComplete="off" error={errors.name?.message} {...register('name')} />
      </div>
      <fieldset className="fieldset" aria-describedby={fieldsError ? `${fieldsId}-error` : undefined}>
        <legend>{p.contacts.customFields}</legend>
        <p className="field__hint">{p.contacts.customFieldsHint}</p>
        {pairs.map((pair, index) => (
          <div className="pairs" key={pair.id}>
            <TextField
              label={format(p.contacts.fieldName, { n: index + 1 })}
              value={pair.key}
              onChange={(event) => setPair(pair.id, { key: event.target.value })}
              error={showKeyErrors && badKeys.has(pair.id) ? p.contacts.fieldKeyInvalid : undefined}
            />
            <TextField
              label={format(p.contacts.fieldValue, { n: index + 1 })}
              value={pair.value}
              onChange={(event) => setPair(pair.id, { value: event.target.value })}
            />
            <Button
              variant="secondary"
              className="pairs__remove"
              aria-label={format(p.contacts.removeField, { n: index + 1 })}
              onClick={() => setPairs((list) => list.filter((other) => other.id !== pair.id))}
            >
              ×
            </Button>
          </div>
        ))}
        {fieldsError ? (
          <p id={`${fieldsId}-error`} className="field__error" role="alert">
            {fieldsError}
          </p>
        ) : null}
        <Button
          variant="secondary"
          onClick={() => {
            setPairs((list) => [...list, { id: nextId, key: '', value: '' }]);
            setNextId((id) => id + 1);
          }}
        >
          {p.contacts.addField}
        </Button>
      </fieldset>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {done ? (
        <p className="form-success" role="status">
          {done}
        </p>
      ) : null}
      <Button type="submit" disabled={isSubmitting}>
        {isSubmitting ? p.common.creating : p.contacts.submit}
      </Button>
    </form>
  );
}

function ContactsList() {
  const { p, language } = usePageText();
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim());
  const contacts = useContacts(q);
  const rows = useMemo(() => contacts.data?.pages.flatMap((page) => page.items) ?? [], [contacts.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = contacts;

  const onRangeChange = useCallback(
    (_first: number, last: number) => {
      if (hasNextPage && !isFetchingNextPage && last >= rows.length - PREFETCH_ROWS) void fetchNextPage();
    },
    [hasNextPage, isFetchingNextPage, fetchNextPage, rows.length],
  );
  const renderRow = useCallback(
    (index: number) => {
      const contact = rows[index];
      return contact ? <ContactRow contact={contact} /> : <span className="contact-row muted">{p.common.loadingMore}</span>;
    },
    [rows, p.common.loadingMore],
  );

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.contacts.title}</h1>
      <p>{p.contacts.intro}</p>
      <ContactsTabs />
      <div className="toolbar" role="search">
        <TextField
          label={p.contacts.search}
          type="search"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          placeholder={p.contacts.searchPlaceholder}
        />
      </div>
      <ErrorAlert error={contacts.error} fallback={p.common.unexpected} />
      {contacts.isPending ? (
        <Loading />
      ) : rows.length === 0 && !contacts.isError ? (
        <p>{q ? format(p.contacts.noMatch, { q }) : p.contacts.empty}</p>
      ) : (
        <>
          <p className="muted" aria-live="polite">
            {format(hasNextPage ? p.contacts.loadedMore : p.contacts.loaded, { n: formatNumber(rows.length, language) })}
          </p>
          <div className="contact-row contact-row--header" aria-hidden="true">
            <span>{p.contacts.name}</span>
            <span>{p.contacts.phone}</span>
            <span>{p.contacts.customFields}</span>
          </div>
          <VirtualList
            count={rows.length + (hasNextPage ? 1 : 0)}
            rowHeight={ROW_HEIGHT}
            renderRow={renderRow}
            onRangeChange={onRangeChange}
            label={p.contacts.listLabel}
            setSize={hasNextPage ? -1 : rows.length}
          />
        </>
      )}
      <CreateContactForm />
    </section>
  );
}

export default function ContactsPage() {
  return (
    <Routes>
      <Route index element={<ContactsList />} />
      <Route path="imports" element={<ImportsPage />} />
    </Routes>
  );
}
