import { QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ComponentProps, ReactNode } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { Providers, ROUTER_FUTURE } from '../App';
import type { Language } from '../i18n';

/** Where the router is now, for tests that check a redirect. */
export function CurrentAddress() {
  const location = useLocation();
  return <output data-testid="address">{`${location.pathname}${location.search}`}</output>;
}

/** Renders routes inside the app's providers, at `address`, with a fresh cache and no retries. */
type Address = NonNullable<ComponentProps<typeof MemoryRouter>['initialEntries']>[number];

export function renderAt(address: Address, routes: ReactNode, language: Language = 'en') {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const view = render(
    <Providers queryClient={queryClient} language={language}>
      <MemoryRouter initialEntries={[address]} future={ROUTER_FUTURE}>
        <Routes>{routes}</Routes>
        <CurrentAddress />
      </MemoryRouter>
    </Providers>,
  );
  return { ...view, queryClient };
}

export { Route };
