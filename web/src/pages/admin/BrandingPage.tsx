import { zodResolver } from '@hookform/resolvers/zod';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useForm } from 'react-hook-form';
import * as z from 'zod/mini';
import { getBranding, getCustomHost, putBranding, verifyCustomHost, type PutBranding } from '../../api/tenantBranding';
import { Button } from '../../components/Button';
import { ErrorAlert, setServerFieldError } from '../../components/ErrorAlert';
import { TextAreaField } from '../../components/FormFields';
import { Loading } from '../../components/Loading';
import { TextField } from '../../components/TextField';
import { usePageText, type PageDictionary } from '../../i18n/pages';
import '../pages.css';

const COLOUR = /^#[0-9a-f]{6}$/i;
const optionalColour = (message: string) => z.string().check(z.trim(), z.refine((value) => value === '' || COLOUR.test(value), message));
const optionalUrl = (message: string) => z.string().check(z.trim(), z.refine((value) => value === '' || /^https?:\/\/\S+$/i.test(value) || value.startsWith('/'), message));

function brandingSchema(p: PageDictionary['branding']) {
  return z.object({
    appName: z.string().check(z.trim(), z.minLength(1, p.appNameRequired)),
    logoUrl: optionalUrl(p.urlInvalid),
    primaryColor: optionalColour(p.colourInvalid),
    secondaryColor: optionalColour(p.colourInvalid),
    supportEmail: z.string().check(z.trim(), z.refine((value) => value === '' || /^\S+@\S+\.\S+$/.test(value), p.emailInvalid)),
    supportUrl: optionalUrl(p.urlInvalid),
    customHost: z.string().check(z.trim()),
    homeHtml: z.string(),
  });
}
type BrandingValues = z.infer<ReturnType<typeof brandingSchema>>;
const FIELDS = ['appName', 'logoUrl', 'primaryColor', 'secondaryColor', 'supportEmail', 'supportUrl', 'customHost', 'homeHtml'] as const;

const orNull = (value: string) => (value.trim() === '' ? null : value.trim());

/**
 * How the login page and the shell will look. The colours are custom properties set through the
 * CSSOM (the CSP forbids `style` attributes), on this box only.
 */
function BrandingPreview({ values, p }: { values: BrandingValues; p: PageDictionary['branding'] }) {
  const box = useRef<HTMLDivElement>(null);
  const primary = COLOUR.test(values.primaryColor) ? values.primaryColor : '';
  const secondary = COLOUR.test(values.secondaryColor) ? values.secondaryColor : '';
  useEffect(() => {
    const style = box.current?.style;
    if (!style) return;
    if (primary) style.setProperty('--preview-primary', primary);
    else style.removeProperty('--preview-primary');
    if (secondary) style.setProperty('--preview-secondary', secondary);
    else style.removeProperty('--preview-secondary');
  }, [primary, secondary]);
  const appName = values.appName.trim() || p.previewDefaultName;
  return (
    <section className="panel" aria-labelledby="branding-preview-title">
      <h2 id="branding-preview-title">{p.previewTitle}</h2>
      <div ref={box} className="brand-preview" data-testid="branding-preview">
        <div className="brand-preview__bar">
          {values.logoUrl.trim() ? <img src={values.logoUrl.trim()} alt="" width={32} height={32} loading="lazy" decoding="async" /> : null}
          <strong>{appName}</strong>
        </div>
        <div className="brand-preview__body">
          <p>{p.previewText}</p>
          <span className="brand-preview__button">{p.previewButton}</span>{' '}
          <span className="brand-preview__link">{values.supportEmail.trim() || values.supportUrl.trim() || p.previewLink}</span>
        </div>
      </div>
    </section>
  );
}

/**
 * The custom domain's proof: the TXT record to publish, and a button that asks the server to
 * look it up. The login page is served on the domain only once it is verified.
 */
function CustomHostPanel({ p }: { p: PageDictionary['branding'] }) {
  const queryClient = useQueryClient();
  const claim = useQuery({ queryKey: ['tenant-custom-host'], queryFn: getCustomHost });
  const [failure, setFailure] = useState<unknown>(null);
  const [checking, setChecking] = useState(false);
  if (!claim.data) return null;
  const { host, status, txtRecord, txtValue } = claim.data;
  const verify = async () => {
    setFailure(null);
    setChecking(true);
    try {
      queryClient.setQueryData(['tenant-custom-host'], await verifyCustomHost());
      await queryClient.invalidateQueries({ queryKey: ['tenant-branding'] });
    } catch (error) {
      setFailure(error);
    } finally {
      setChecking(false);
    }
  };
  return (
    <section className="panel" aria-labelledby="custom-host-title">
      <h2 id="custom-host-title">{p.customHostTitle}</h2>
      {status === 'verified' ? (
        <p role="status">{p.customHostVerified.replace('{host}', host)}</p>
      ) : (
        <>
          <p>{p.customHostPending.replace('{host}', host)}</p>
          <dl className="details">
            <dt>{p.customHostRecordName}</dt>
            <dd>
              <code>{txtRecord}</code>
            </dd>
            <dt>{p.customHostRecordValue}</dt>
            <dd>
              <code>{txtValue}</code>
            </dd>
          </dl>
          <ErrorAlert error={failure} fallback={p.customHostNotFound} />
          <Button type="button" onClick={verify} disabled={checking}>
            {checking ? p.customHostChecking : p.customHostVerify}
          </Button>
        </>
      )}
    </section>
  );
}

export default function BrandingPage() {
  const { p } = usePageText();
  const queryClient = useQueryClient();
  const branding = useQuery({ queryKey: ['tenant-branding'], queryFn: getBranding });
  const [failure, setFailure] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const schema = useMemo(() => brandingSchema(p.branding), [p.branding]);
  const {
    register,
    handleSubmit,
    setError,
    reset,
    watch,
    formState: { errors, isSubmitting },
  } = useForm<BrandingValues>({
    resolver: zodResolver(schema),
    defaultValues: { appName: '', logoUrl: '', primaryColor: '', secondaryColor: '', supportEmail: '', supportUrl: '', customHost: '', homeHtml: '' },
  });

  useEffect(() => {
    const data = branding.data;
    if (!data) return;
    reset({
      appName: data.appName,
      logoUrl: data.logoUrl ?? '',
      primaryColor: data.primaryColor ?? '',
      secondaryColor: data.secondaryColor ?? '',
      supportEmail: data.supportEmail ?? '',
      supportUrl: data.supportUrl ?? '',
      customHost: data.customHost ?? '',
      homeHtml: data.homeHtml ?? '',
    });
  }, [branding.data, reset]);

  const onSubmit = handleSubmit(async (values) => {
    setFailure(null);
    setSaved(false);
    const body: PutBranding = {
      appName: values.appName,
      logoUrl: orNull(values.logoUrl),
      primaryColor: orNull(values.primaryColor),
      secondaryColor: orNull(values.secondaryColor),
      supportEmail: orNull(values.supportEmail),
      supportUrl: orNull(values.supportUrl),
      customHost: orNull(values.customHost),
      homeHtml: orNull(values.homeHtml),
    };
    try {
      const stored = await putBranding(body);
      queryClient.setQueryData(['tenant-branding'], stored);
      // A new custom domain is a new claim with its own record to publish.
      await queryClient.invalidateQueries({ queryKey: ['tenant-custom-host'] });
      // The shell and the login page read the public branding: they show the change too.
      await queryClient.invalidateQueries({ queryKey: ['branding'] });
      setSaved(true);
    } catch (error) {
      if (!setServerFieldError<BrandingValues>(error, FIELDS, setError)) setFailure(error);
    }
  });

  if (branding.isPending) return <Loading />;
  return (
    <section className="page page--wide" aria-labelledby="page-title">
      <h1 id="page-title">{p.branding.title}</h1>
      <p>{p.branding.intro}</p>
      <ErrorAlert error={branding.error} fallback={p.common.unexpected} />
      <div className="two-columns">
        <form onSubmit={onSubmit} noValidate>
          <TextField label={p.branding.appName} error={errors.appName?.message} {...register('appName')} />
          <TextField label={p.branding.logoUrl} type="url" placeholder="https://" error={errors.logoUrl?.message} {...register('logoUrl')} />
          <div className="form-row">
            <TextField label={p.branding.primaryColor} placeholder="#0b6e4f" error={errors.primaryColor?.message} {...register('primaryColor')} />
            <TextField label={p.branding.secondaryColor} placeholder="#1f3a5f" error={errors.secondaryColor?.message} {...register('secondaryColor')} />
          </div>
          <TextField label={p.branding.supportEmail} type="email" error={errors.supportEmail?.message} {...register('supportEmail')} />
          <TextField label={p.branding.supportUrl} type="url" placeholder="https://" error={errors.supportUrl?.message} {...register('supportUrl')} />
          <TextField label={p.branding.customHost} placeholder="app.example.com" error={errors.customHost?.message} {...register('customHost')} />
          <TextAreaField label={p.branding.homeHtml} hint={p.branding.homeHtmlHint} error={errors.homeHtml?.message} {...register('homeHtml')} />
          <ErrorAlert error={failure} fallback={p.common.unexpected} />
          {saved ? (
            <p className="form-success" role="status">
              {p.branding.saved}
            </p>
          ) : null}
          <Button type="submit" disabled={isSubmitting}>
            {isSubmitting ? p.common.saving : p.common.save}
          </Button>
        </form>
        <div>
          <BrandingPreview values={watch()} p={p.branding} />
          <CustomHostPanel p={p.branding} />
        </div>
      </div>
    </section>
  );
}
