import { zodResolver } from '@hookform/resolvers/zod';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import * as z from 'zod/mini';
import { nextPageParam } from '../../api/page';
import { createTenant, listTenants, PLATFORM_PLANS, setTenantPlan, type PlatformPlan, type TenantView } from '../../api/tenants';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { SelectField } from '../../components/FormFields';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { useCreateForm } from '../../components/useCreateForm';
import { format } from '../../i18n';
import { usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';

const tenantsKey = ['admin-tenants'] as const;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function tenantSchema(p: PageDictionary['tenants']) {
  return z.object({
    name: z.string().check(z.trim(), z.minLength(1, p.nameRequired)),
    slug: z.string().check(z.trim(), z.minLength(1, p.slugRequired), z.refine((value) => SLUG.test(value), p.slugInvalid)),
    plan: z.string(),
  });
}
type TenantValues = z.infer<ReturnType<typeof tenantSchema>>;

function CreateTenantForm() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const schema = useMemo(() => tenantSchema(p.tenants), [p.tenants]);
  const { form, failure, done, submit } = useCreateForm<TenantValues>(
    { resolver: zodResolver(schema), defaultValues: { name: '', slug: '', plan: 'free' } },
    ['name', 'slug', 'plan'],
  );
  const {
    register,
    formState: { errors, isSubmitting },
  } = form;
  const onSubmit = submit(async ({ name, slug, plan }) => {
    const tenant = await createTenant({ name, slug, plan: plan as PlatformPlan });
    await queryClient.invalidateQueries({ queryKey: tenantsKey });
    return format(p.tenants.created, { name: tenant.name });
  });
  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="tenant-create-title">
      <h2 id="tenant-create-title">{p.tenants.createTitle}</h2>
      <div className="form-row">
        <TextField label={p.tenants.name} error={errors.name?.message} {...register('name')} />
        <TextField label={p.tenants.slug} placeholder="acme" error={errors.slug?.message} {...register('slug')} />
        <SelectField label={p.tenants.plan} error={errors.plan?.message} {...register('plan')}>
          {PLATFORM_PLANS.map((plan) => (
            <option key={plan} value={plan}>
              {p.tenants.plans[plan]}
            </option>
          ))}
        </SelectField>
      </div>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      {done ? (
        <p className="form-success" role="status">
          {done}
        </p>
      ) : null}
      <Button type="submit" disabled={isSubmitting}>
        {isSubmitting ? p.common.creating : p.tenants.create}
      </Button>
    </form>
  );
}

function TenantRow({ tenant }: { tenant: TenantView }) {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const change = useMutation({
    mutationFn: (plan: PlatformPlan) => setTenantPlan(tenant.id, plan),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: tenantsKey }),
  });
  return (
    <tr>
      <th scope="row">{tenant.name}</th>
      <td>
        <code>{tenant.slug}</code>
      </td>
      <td>
        <SelectField
          label={format(p.tenants.planOf, { name: tenant.name })}
          className="field--compact"
          value={change.isPending && change.variables ? change.variables : tenant.plan}
          disabled={change.isPending}
          onChange={(event) => change.mutate(event.target.value as PlatformPlan)}
        >
          {PLATFORM_PLANS.map((plan) => (
            <option key={plan} value={plan}>
              {p.tenants.plans[plan]}
            </option>
          ))}
        </SelectField>
        <ErrorAlert error={change.error} fallback={p.common.unexpected} />
      </td>
    </tr>
  );
}

/** The platform's tenants (superadmin). */
export default function TenantsPage() {
  const { p } = usePageText();
  const tenants = useInfiniteQuery({
    queryKey: tenantsKey,
    queryFn: ({ pageParam }) => listTenants(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const rows = useMemo(() => tenants.data?.pages.flatMap((page) => page.items) ?? [], [tenants.data]);
  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.tenants.title}</h1>
      <ErrorAlert error={tenants.error} fallback={p.common.unexpected} />
      {tenants.isPending ? (
        <Loading />
      ) : rows.length === 0 && !tenants.isError ? (
        <p>{p.common.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.tenants.name}</th>
                <th scope="col">{p.tenants.slug}</th>
                <th scope="col">{p.tenants.plan}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((tenant) => (
                <TenantRow key={tenant.id} tenant={tenant} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={tenants.hasNextPage} loading={tenants.isFetchingNextPage} onLoad={() => void tenants.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
      <CreateTenantForm />
    </section>
  );
}
