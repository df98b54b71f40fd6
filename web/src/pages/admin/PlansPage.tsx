import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { isApiError } from '../../api/client';
import { nextPageParam } from '../../api/page';
import { createPlan, deletePlan, FEATURES, listPlans, QUOTAS, updatePlan, type Feature, type PlanBody, type QuotaName, type SubscriptionPlan } from '../../api/plans';
import { Button } from '../../components/Button';
import { ErrorAlert } from '../../components/ErrorAlert';
import { LoadMore } from '../../components/LoadMore';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { format } from '../../i18n';
import { formatNumber, usePageText } from '../../i18n/pages';
import '../pages.css';

const plansKey = ['plans'] as const;

type QuotaText = Record<QuotaName, string>;
const NO_QUOTAS: QuotaText = { max_inboxes: '', max_contacts: '', max_campaigns: '', messages_per_day: '' };

/** Creates a plan, or edits `plan`. Empty quotas are unlimited. */
function PlanForm({ plan, onDone }: { plan: SubscriptionPlan | null; onDone: () => void }) {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const [name, setName] = useState(plan?.name ?? '');
  const [features, setFeatures] = useState<Set<Feature>>(() => new Set(plan?.features ?? []));
  const [quotas, setQuotas] = useState<QuotaText>(() =>
    plan ? (Object.fromEntries(QUOTAS.map((quota) => [quota, plan.quotas[quota]?.toString() ?? ''])) as QuotaText) : NO_QUOTAS,
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const save = useMutation({
    mutationFn: (body: PlanBody) => (plan ? updatePlan(plan.id, body) : createPlan(body)),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: plansKey });
      onDone();
    },
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const found: Record<string, string> = {};
    if (name.trim() === '') found.name = p.plans.nameRequired;
    for (const quota of QUOTAS) if (quotas[quota].trim() !== '' && !/^\d+$/.test(quotas[quota].trim())) found[quota] = p.plans.quotaInvalid;
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const body: PlanBody = {
      name: name.trim(),
      features: FEATURES.filter((feature) => features.has(feature)),
      quotas: Object.fromEntries(QUOTAS.map((quota) => [quota, quotas[quota].trim() === '' ? null : Number(quotas[quota])])),
    };
    save.mutate(body, {
      onError: (error) => {
        const field = isApiError(error) ? error.field : null;
        const key = field?.startsWith('quotas.') ? field.slice('quotas.'.length) : field;
        if (key && (key === 'name' || (QUOTAS as readonly string[]).includes(key))) setErrors({ [key]: (error as Error).message });
        else setFailure(error);
      },
    });
  };

  return (
    <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="plan-form-title">
      <h2 id="plan-form-title">{plan ? format(p.plans.editTitle, { name: plan.name }) : p.plans.createTitle}</h2>
      <TextField label={p.plans.name} value={name} error={errors.name} onChange={(event) => setName(event.target.value)} />
      <fieldset className="fieldset">
        <legend>{p.plans.features}</legend>
        {FEATURES.map((feature) => (
          <label key={feature} className="checkbox">
            <input
              type="checkbox"
              checked={features.has(feature)}
              onChange={(event) => {
                const next = new Set(features);
                if (event.target.checked) next.add(feature);
                else next.delete(feature);
                setFeatures(next);
              }}
            />
            {p.plans.featureNames[feature]}
          </label>
        ))}
      </fieldset>
      <fieldset className="fieldset">
        <legend>{p.plans.quotas}</legend>
        <p className="field__hint">{p.plans.quotasHint}</p>
        <div className="form-row">
          {QUOTAS.map((quota) => (
            <TextField
              key={quota}
              label={p.plans.quotaNames[quota]}
              inputMode="numeric"
              value={quotas[quota]}
              error={errors[quota]}
              placeholder={p.plans.unlimited}
              onChange={(event) => setQuotas({ ...quotas, [quota]: event.target.value })}
            />
          ))}
        </div>
      </fieldset>
      <ErrorAlert error={failure} fallback={p.common.unexpected} />
      <div className="button-row">
        <Button type="submit" disabled={save.isPending}>
          {save.isPending ? p.common.saving : plan ? p.common.save : p.plans.create}
        </Button>
        {plan ? (
          <Button variant="secondary" onClick={onDone}>
            {p.common.cancel}
          </Button>
        ) : null}
      </div>
    </form>
  );
}

/** The tenant's subscription plans for its users (tenant admins). */
export default function PlansPage() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<SubscriptionPlan | null>(null);
  const plans = useInfiniteQuery({
    queryKey: plansKey,
    queryFn: ({ pageParam }) => listPlans(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: nextPageParam,
  });
  const remove = useMutation({ mutationFn: deletePlan, onSuccess: () => queryClient.invalidateQueries({ queryKey: plansKey }) });
  const rows = useMemo(() => plans.data?.pages.flatMap((page) => page.items) ?? [], [plans.data]);
  const quotaText = (value: number | null | undefined) => (value === null || value === undefined ? p.plans.unlimited : formatNumber(value, language));

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.plans.title}</h1>
      <p>{p.plans.intro}</p>
      <ErrorAlert error={plans.error ?? remove.error} fallback={p.common.unexpected} />
      {plans.isPending ? (
        <Loading />
      ) : rows.length === 0 && !plans.isError ? (
        <p>{p.plans.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{p.plans.name}</th>
                <th scope="col">{p.plans.features}</th>
                {QUOTAS.map((quota) => (
                  <th scope="col" key={quota}>
                    {p.plans.quotaNames[quota]}
                  </th>
                ))}
                <th scope="col">{p.plans.subscribers}</th>
                <th scope="col">{p.common.actions}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((plan) => (
                <tr key={plan.id}>
                  <th scope="row">{plan.name}</th>
                  <td>{plan.features.map((feature) => p.plans.featureNames[feature]).join(', ') || p.common.none}</td>
                  {QUOTAS.map((quota) => (
                    <td className="cell--number" key={quota}>
                      {quotaText(plan.quotas[quota])}
                    </td>
                  ))}
                  <td className="cell--number">{formatNumber(plan.subscribers, language)}</td>
                  <td>
                    <div className="button-row">
                      <Button variant="secondary" className="button--small" aria-label={format(p.plans.editName, { name: plan.name })} onClick={() => setEditing(plan)}>
                        {p.plans.edit}
                      </Button>
                      <Button
                        variant="secondary"
                        className="button--small"
                        aria-label={format(p.plans.deleteName, { name: plan.name })}
                        disabled={remove.isPending}
                        onClick={() => remove.mutate(plan.id)}
                      >
                        {p.common.delete}
                      </Button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore hasMore={plans.hasNextPage} loading={plans.isFetchingNextPage} onLoad={() => void plans.fetchNextPage()} label={p.common.loadMore} loadingLabel={p.common.loadingMore} />
      {/* Keyed so that switching plans starts the form afresh. */}
      <PlanForm key={editing?.id ?? 'new'} plan={editing} onDone={() => setEditing(null)} />
    </section>
  );
}
