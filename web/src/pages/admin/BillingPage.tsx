import { zodResolver } from '@hookform/resolvers/zod';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useForm } from 'react-hook-form';
import * as z from 'zod/mini';
import { deleteStripeSettings, getStripeSettings, putStripeSettings } from '../../api/stripe';
import { Button } from '../../components/Button';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert, setServerFieldError } from '../../components/ErrorAlert';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { formatDateTime, usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';

const stripeKey = ['stripe-settings'] as const;

function settingsSchema(p: PageDictionary['stripe']) {
  const starts = (prefix: string, message: string) => z.string().check(z.trim(), z.minLength(1, p.required), z.refine((value) => value.startsWith(prefix), message));
  return z.object({
    publishableKey: starts('pk_', p.publishableInvalid),
    secretKey: z.string().check(z.trim(), z.minLength(1, p.required), z.refine((value) => value.startsWith('sk_') || value.startsWith('rk_'), p.secretInvalid)),
    webhookSecret: starts('whsec_', p.webhookInvalid),
  });
}
type SettingsValues = z.infer<ReturnType<typeof settingsSchema>>;

/** The tenant's Stripe keys (the "Billing" page of tenant admins). */
export default function BillingPage() {
  const { p, language } = usePageText();
  const queryClient = useQueryClient();
  const settings = useQuery({ queryKey: stripeKey, queryFn: getStripeSettings });
  const [failure, setFailure] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const schema = useMemo(() => settingsSchema(p.stripe), [p.stripe]);
  const {
    register,
    handleSubmit,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = useForm<SettingsValues>({ resolver: zodResolver(schema), defaultValues: { publishableKey: '', secretKey: '', webhookSecret: '' } });
  const remove = useMutation({
    mutationFn: deleteStripeSettings,
    onSuccess: () => {
      setConfirming(false);
      queryClient.setQueryData(stripeKey, null);
    },
  });

  const onSubmit = handleSubmit(async (values) => {
    setFailure(null);
    setSaved(false);
    try {
      const stored = await putStripeSettings(values);
      queryClient.setQueryData(stripeKey, stored);
      reset();
      setSaved(true);
    } catch (error) {
      if (!setServerFieldError<SettingsValues>(error, ['publishableKey', 'secretKey', 'webhookSecret'], setError)) setFailure(error);
    }
  });

  if (settings.isPending) return <Loading />;
  const current = settings.data ?? null;
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">{p.stripe.title}</h1>
      <p>{p.stripe.intro}</p>
      <ErrorAlert error={settings.error} fallback={p.common.unexpected} />
      <h2>{p.stripe.currentTitle}</h2>
      {current ? (
        <>
          <dl className="details">
            <dt>{p.stripe.publishableKey}</dt>
            <dd>{current.publishableKey}</dd>
            <dt>{p.stripe.secretKey}</dt>
            <dd>{current.secretKeyHint}</dd>
            <dt>{p.stripe.webhookSecret}</dt>
            <dd>{current.webhookSecretHint}</dd>
            <dt>{p.stripe.webhookUrl}</dt>
            <dd className="secret">
              <code>{current.webhookUrl}</code>
              <CopyButton value={current.webhookUrl} label={p.common.copy} copiedLabel={p.common.copied} />
            </dd>
            <dt>{p.stripe.updatedAt}</dt>
            <dd>{formatDateTime(current.updatedAt, language)}</dd>
          </dl>
          {confirming ? (
            <div className="button-row">
              <Button onClick={() => remove.mutate()} disabled={remove.isPending}>
                {p.stripe.confirmDelete}
              </Button>
              <Button variant="secondary" onClick={() => setConfirming(false)}>
                {p.common.cancel}
              </Button>
            </div>
          ) : (
            <Button variant="secondary" onClick={() => setConfirming(true)}>
              {p.stripe.delete}
            </Button>
          )}
          <ErrorAlert error={remove.error} fallback={p.common.unexpected} />
        </>
      ) : settings.isError ? null : (
        <p>{p.stripe.none}</p>
      )}
      <form onSubmit={onSubmit} noValidate className="panel" aria-labelledby="stripe-form-title">
        <h2 id="stripe-form-title">{current ? p.stripe.replaceTitle : p.stripe.setTitle}</h2>
        <TextField label={p.stripe.publishableKey} autoComplete="off" placeholder="pk_live_…" error={errors.publishableKey?.message} {...register('publishableKey')} />
        <TextField label={p.stripe.secretKey} type="password" autoComplete="off" placeholder="sk_live_…" error={errors.secretKey?.message} {...register('secretKey')} />
        <TextField label={p.stripe.webhookSecret} type="password" autoComplete="off" placeholder="whsec_…" error={errors.webhookSecret?.message} {...register('webhookSecret')} />
        <ErrorAlert error={failure} fallback={p.common.unexpected} />
        {saved ? (
          <p className="form-success" role="status">
            {p.stripe.saved}
          </p>
        ) : null}
        <Button type="submit" disabled={isSubmitting}>
          {isSubmitting ? p.common.saving : p.common.save}
        </Button>
      </form>
    </section>
  );
}
