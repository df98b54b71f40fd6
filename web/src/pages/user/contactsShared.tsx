import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { NavLink } from 'react-router-dom';
import { listContacts } from '../../api/contacts';
import { nextPageParam } from '../../api/page';
import { usePageText } from '../../i18n/pages';

const PAGE_SIZE = 500;

/** Every contacts query starts with this key, so one invalidation refreshes them all. */
export const contactsKey = ['contacts'] as const;

/** The two views of the contacts section: the list and the imports. */
export function ContactsTabs() {
  const { p } = usePageText();
  return (
    <nav className="tabs" aria-label={p.contacts.tabs}>
      <NavLink to="/contacts" end>
        {p.contacts.listTab}
      </NavLink>
      <NavLink to="/contacts/imports">{p.contacts.importLink}</NavLink>
    </nav>
  );
}


/** Contacts matching `q` (all when empty), fetched one cursor page at a time. */
export function useContacts(q: string) {
  return useInfiniteQuery({
    queryKey: [...contactsKey, { q }],
    queryFn: ({ pageParam }) => listContacts({ cursor: pageParam, q, limit: PAGE_SIZE }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
}

/** `value` once it has stopped changing for `delay` ms. */
export function useDebounced<Value>(value: Value, delay = 300): Value {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

