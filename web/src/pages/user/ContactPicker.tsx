import { memo, useCallback, useMemo, useState } from 'react';
import type { Contact } from '../../api/contacts';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { TextField } from '../../components/TextField';
import { VirtualList } from '../../components/VirtualList';
import { format } from '../../i18n';
import { formatNumber, usePageText } from '../../i18n/pages';
import { useContacts, useDebounced } from './contactsShared';

const ROW_HEIGHT = 48;

const PickRow = memo(function PickRow({ contact, checked, onToggle }: { contact: Contact; checked: boolean; onToggle: (contact: Contact) => void }) {
  return (
    <label className="pick-row">
      <input type="checkbox" checked={checked} onChange={() => onToggle(contact)} />
      <span>{contact.name || '—'}</span>
      <span className="muted">+{contact.phone}</span>
    </label>
  );
});

/**
 * Picks a campaign's recipients from the contacts: search, tick one by one, or take every contact
 * loaded for the search. The list is windowed and fetches pages as it scrolls, like the contacts page.
 */
export function ContactPicker({
  selected,
  onChange,
  error,
}: {
  selected: ReadonlyMap<string, Contact>;
  onChange: (next: Map<string, Contact>) => void;
  error?: string | undefined;
}) {
  const { p, language } = usePageText();
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim());
  const contacts = useContacts(q);
  const rows = useMemo(() => contacts.data?.pages.flatMap((page) => page.items) ?? [], [contacts.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = contacts;

  const toggle = useCallback(
    (contact: Contact) => {
      const next = new Map(selected);
      if (next.has(contact.id)) next.delete(contact.id);
      else next.set(contact.id, contact);
      onChange(next);
    },
    [selected, onChange],
  );
  const [selectingAll, setSelectingAll] = useState(false);
  /** Every contact matching the search: fetches the remaining pages first (up to the 100 000 a campaign takes). */
  const selectAllMatching = async () => {
    setSelectingAll(true);
    try {
      let result = contacts;
      while (result.hasNextPage && !result.isError) result = await fetchNextPage();
      const next = new Map(selected);
      for (const page of result.data?.pages ?? []) for (const contact of page.items) next.set(contact.id, contact);
      onChange(next);
    } finally {
      setSelectingAll(false);
    }
  };
  const onRangeChange = useCallback(
    (_first: number, last: number) => {
      if (hasNextPage && !isFetchingNextPage && last >= rows.length - 50) void fetchNextPage();
    },
    [hasNextPage, isFetchingNextPage, fetchNextPage, rows.length],
  );
  const renderRow = useCallback(
    (index: number) => {
      const contact = rows[index];
      return contact ? <PickRow contact={contact} checked={selected.has(contact.id)} onToggle={toggle} /> : <span className="pick-row muted">{p.common.loadingMore}</span>;
    },
    [rows, selected, toggle, p.common.loadingMore],
  );

  return (
    <fieldset className="fieldset" aria-describedby={error ? 'contact-picker-error' : undefined}>
      <legend>{p.campaigns.recipientsLegend}</legend>
      <div className="toolbar">
        <TextField label={p.contacts.search} type="search" value={search} onChange={(event) => setSearch(event.target.value)} />
        <Button
          variant="secondary"
          onClick={() => {
            const next = new Map(selected);
            for (const contact of rows) next.set(contact.id, contact);
            onChange(next);
          }}
          disabled={rows.length === 0}
        >
          {format(p.campaigns.selectShown, { n: formatNumber(rows.length, language) })}
        </Button>
        {hasNextPage ? (
          <Button variant="secondary" onClick={() => void selectAllMatching()} disabled={selectingAll}>
            {selectingAll ? format(p.campaigns.selectingAll, { n: formatNumber(rows.length, language) }) : p.campaigns.selectAll}
          </Button>
        ) : null}
        <Button variant="secondary" onClick={() => onChange(new Map())} disabled={selected.size === 0}>
          {p.campaigns.clearSelection}
        </Button>
      </div>
      <p className="muted" aria-live="polite">
        {format(p.campaigns.selectedCount, { n: formatNumber(selected.size, language) })}
      </p>
      <ErrorAlert error={contacts.error} fallback={p.common.unexpected} />
      {rows.length > 0 ? (
        <VirtualList
          count={rows.length + (hasNextPage ? 1 : 0)}
          rowHeight={ROW_HEIGHT}
          renderRow={renderRow}
          onRangeChange={onRangeChange}
          label={p.campaigns.pickList}
          setSize={hasNextPage ? -1 : rows.length}
        />
      ) : contacts.isPending ? null : (
        <p>{q ? format(p.contacts.noMatch, { q }) : p.contacts.empty}</p>
      )}
      {error ? (
        <p id="contact-picker-error" className="field__error" role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}
