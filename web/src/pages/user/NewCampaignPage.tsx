import { zodResolver } from '@hookform/resolvers/zod';
import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useForm } from 'react-hook-form';
import { Link, useNavigate } from 'react-router-dom';
import * as z from 'zod/mini';
import { createCampaign, type CreateCampaign } from '../../api/campaigns';
import { isApiError } from '../../api/client';
import type { Contact } from '../../api/contacts';
import { Button } from '../../components/Button';
import { ErrorAlert, setServerFieldError } from '../../components/ErrorAlert';
import { SelectField, TextAreaField } from '../../components/FormFields';
import { TextField } from '../../components/TextField';
import { format } from '../../i18n';
import { usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';
import { campaignsKey } from './campaignsShared';
import { ContactPicker } from './ContactPicker';
import { useInboxes } from './InboxesPage';
import { renderTemplate, type TemplateContact } from './template';

const MAX_DELAY_MS = 600_000;
const isDelay = (value: string) => /^\d+$/.test(value.trim()) && Number(value) <= MAX_DELAY_MS;

// zod/mini with only the checks the login page already uses plus `refine` (see ContactsPage):
// numbers and dates are typed as text and checked here, then converted on submit.
function campaignSchema(p: PageDictionary['campaigns']) {
  return z.object({
    name: z.string().check(z.trim(), z.minLength(1, p.nameRequired), z.refine((value) => value.length <= 200, p.nameTooLong)),
    inboxId: z.string().check(z.minLength(1, p.inboxRequired)),
    audience: z.string(),
    template: z.string().check(z.trim(), z.minLength(1, p.templateRequired)),
    delayMinMs: z.string().check(z.refine(isDelay, p.delayInvalid)),
    delayMaxMs: z.string().check(z.refine(isDelay, p.delayInvalid)),
    scheduledAt: z.string().check(z.refine((value) => value === '' || !Number.isNaN(Date.parse(value)), p.scheduledInvalid)),
  });
}
type CampaignValues = z.infer<ReturnType<typeof campaignSchema>>;
const FORM_FIELDS = ['name', 'inboxId', 'audience', 'template', 'delayMinMs', 'delayMaxMs', 'scheduledAt'] as const;

/** The contact the preview uses before any is picked. */
const SAMPLE: TemplateContact = { name: 'Ana', phone: '5511999990000', fields: {} };

function Preview({ template, selected }: { template: string; selected: ReadonlyMap<string, Contact> }) {
  const { p } = usePageText();
  const [contactId, setContactId] = useState('');
  const [variant, setVariant] = useState(0);
  // The first 100 picked contacts are offered; enough to check a template.
  const choices = useMemo(() => [...selected.values()].slice(0, 100), [selected]);
  const contact = selected.get(contactId) ?? choices[0];
  const rendered = useMemo(
    () => renderTemplate(template, contact ? { name: contact.name, phone: contact.phone, fields: contact.fields as Record<string, unknown> } : SAMPLE, variant),
    [template, contact, variant],
  );
  return (
    <section className="panel" aria-labelledby="preview-title">
      <h2 id="preview-title">{p.campaigns.previewTitle}</h2>
      <div className="form-row">
        <SelectField label={p.campaigns.previewFor} value={contact?.id ?? ''} onChange={(event) => setContactId(event.target.value)}>
          {choices.length === 0 ? <option value="">{p.campaigns.sampleContact}</option> : null}
          {choices.map((choice) => (
            <option key={choice.id} value={choice.id}>
              {choice.name || `+${choice.phone}`}
            </option>
          ))}
        </SelectField>
        <SelectField label={p.campaigns.variant} value={String(Math.min(variant, rendered.variants - 1))} onChange={(event) => setVariant(Number(event.target.value))}>
          {Array.from({ length: rendered.variants }, (_, index) => (
            <option key={index} value={index}>
              {format(p.campaigns.variantN, { n: index + 1 })}
            </option>
          ))}
        </SelectField>
      </div>
      <p className="preview" aria-live="polite" data-testid="preview">
        {rendered.text || p.campaigns.previewEmpty}
      </p>
      {rendered.missing.length > 0 ? (
        <p className="warning" role="status">
          {format(p.campaigns.missingFields, { fields: rendered.missing.join(', ') })}
        </p>
      ) : null}
    </section>
  );
}

export default function NewCampaignPage() {
  const { p } = usePageText();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const inboxes = useInboxes();
  const inboxList = useMemo(() => inboxes.data?.pages.flatMap((page) => page.items) ?? [], [inboxes.data]);
  const [selected, setSelected] = useState<Map<string, Contact>>(() => new Map());
  const [recipientsError, setRecipientsError] = useState<string | undefined>();
  const [failure, setFailure] = useState<unknown>(null);
  const schema = useMemo(() => campaignSchema(p.campaigns), [p.campaigns]);
  const {
    register,
    watch,
    handleSubmit,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<CampaignValues>({
    resolver: zodResolver(schema),
    defaultValues: { name: '', inboxId: '', audience: 'everyone', template: '', delayMinMs: '3000', delayMaxMs: '8000', scheduledAt: '' },
  });
  // `watch` rather than `useWatch`: it is part of `useForm`, which the login page already loads.
  const template = watch('template');

  const onSubmit = handleSubmit(async (values) => {
    setFailure(null);
    setRecipientsError(undefined);
    const delayMinMs = Number(values.delayMinMs);
    const delayMaxMs = Number(values.delayMaxMs);
    let valid = true;
    if (delayMaxMs < delayMinMs) {
      setError('delayMaxMs', { message: p.campaigns.delayOrder });
      valid = false;
    }
    if (selected.size === 0) {
      setRecipientsError(p.campaigns.recipientsRequired);
      valid = false;
    }
    if (!valid) return;
    const body: CreateCampaign = {
      name: values.name,
      inboxId: values.inboxId,
      audience: values.audience === 'wrote_before' ? 'wrote_before' : 'everyone',
      template: values.template,
      contactIds: [...selected.keys()],
      delayMinMs,
      delayMaxMs,
      // `datetime-local` is the reader's local time; the gateway takes an instant.
      ...(values.scheduledAt ? { scheduledAt: new Date(values.scheduledAt).toISOString() } : {}),
    };
    try {
      const created = await createCampaign(body);
      await queryClient.invalidateQueries({ queryKey: campaignsKey });
      navigate(`/campaigns/${encodeURIComponent(created.campaign.id)}`);
    } catch (error) {
      if (setServerFieldError<CampaignValues>(error, FORM_FIELDS, setError)) return;
      if (isApiError(error) && error.field?.startsWith('contactIds')) setRecipientsError(error.message);
      else setFailure(error);
    }
  });

  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <p>
        <Link to="/campaigns">{p.campaigns.back}</Link>
      </p>
      <h1 id="page-title">{p.campaigns.newTitle}</h1>
      <form onSubmit={onSubmit} noValidate>
        <div className="form-row">
          <TextField label={p.campaigns.name} autoComplete="off" error={errors.name?.message} {...register('name')} />
          <SelectField label={p.campaigns.inbox} error={errors.inboxId?.message} {...register('inboxId')}>
            <option value="">{inboxes.isPending ? p.campaigns.inboxLoading : p.campaigns.inboxChoose}</option>
            {inboxList.map((inbox) => (
              <option key={inbox.id} value={inbox.id}>
                {inbox.name}
              </option>
            ))}
          </SelectField>
          <SelectField label={p.campaigns.audience} error={errors.audience?.message} {...register('audience')}>
            <option value="everyone">{p.campaigns.audienceEveryone}</option>
            <option value="wrote_before">{p.campaigns.audienceWroteBefore}</option>
          </SelectField>
        </div>
        <ErrorAlert error={inboxes.error} fallback={p.common.unexpected} />
        <TextAreaField label={p.campaigns.template} hint={p.campaigns.templateHint} rows={5} error={errors.template?.message} {...register('template')} />
        <Preview template={template} selected={selected} />
        <ContactPicker
          selected={selected}
          onChange={(next) => {
            setSelected(next);
            if (next.size > 0) setRecipientsError(undefined);
          }}
          error={recipientsError}
        />
        <div className="form-row">
          <TextField label={p.campaigns.delayMin} type="number" min={0} max={MAX_DELAY_MS} step={100} inputMode="numeric" error={errors.delayMinMs?.message} {...register('delayMinMs')} />
          <TextField label={p.campaigns.delayMax} type="number" min={0} max={MAX_DELAY_MS} step={100} inputMode="numeric" error={errors.delayMaxMs?.message} {...register('delayMaxMs')} />
          <TextField label={p.campaigns.scheduledAt} type="datetime-local" error={errors.scheduledAt?.message} {...register('scheduledAt')} />
        </div>
        <ErrorAlert error={failure} fallback={p.common.unexpected} />
        <Button type="submit" disabled={isSubmitting}>
          {isSubmitting ? p.common.creating : p.campaigns.submit}
        </Button>
      </form>
    </section>
  );
}
