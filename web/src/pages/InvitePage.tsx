import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { isApiError } from '../api/client';
import { acceptInvitation, previewInvitation } from '../api/invitations';
import { Button } from '../components/Button';
import { ErrorAlert } from '../components/ErrorAlert';
import { LanguageSwitcher } from '../components/LanguageSwitcher';
import { Loading } from '../components/Loading';
import { TextField } from '../components/TextField';
import { format } from '../i18n';
import { formatDateTime, usePageText } from '../i18n/pages';
import { rememberTenant, sessionQueryKey } from '../session';
import './pages.css';

/**
 * The page an invitation link opens (`/invite/<token>`): who invited whom, then a password to
 * create the account. Public, outside the signed-in shell, like the login page.
 */
export default function InvitePage() {
  const { token = '' } = useParams();
  const { p, t, language } = usePageText();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const preview = useQuery({ queryKey: ['invitation', token], queryFn: () => previewInvitation(token), retry: false, staleTime: Infinity });
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ name?: string; password?: string; confirm?: string }>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [pending, setPending] = useState(false);

  useEffect(() => {
    if (preview.data) setName(preview.data.name);
  }, [preview.data]);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const found: typeof errors = {};
    if (password === '') found.password = p.invite.passwordRequired;
    else if (password !== confirm) found.confirm = p.invite.passwordsDiffer;
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setPending(true);
    try {
      const session = await acceptInvitation({ token, password, ...(name.trim() ? { name: name.trim() } : {}) });
      rememberTenant(preview.data?.tenantSlug ?? null);
      queryClient.setQueryData(sessionQueryKey, session);
      navigate('/', { replace: true });
    } catch (error) {
      if (isApiError(error) && (error.field === 'password' || error.field === 'name')) setErrors({ [error.field]: error.message });
      else setFailure(error);
    } finally {
      setPending(false);
    }
  };

  return (
    <div className="login">
      <div className="login__tools">
        <LanguageSwitcher />
      </div>
      <main className="login__card">
        <header className="login__header">
          <h1>{p.invite.title}</h1>
          {preview.data ? <p className="login__subtitle">{format(p.invite.subtitle, { tenant: preview.data.tenantName })}</p> : null}
        </header>
        {preview.isPending ? (
          <Loading />
        ) : preview.isError ? (
          <ErrorAlert error={preview.error} fallback={p.common.unexpected} />
        ) : (
          <form onSubmit={onSubmit} noValidate>
            <dl className="details">
              <dt>{t.login.email}</dt>
              <dd>{preview.data.email}</dd>
              <dt>{p.users.role}</dt>
              <dd>{p.users.roles[preview.data.role]}</dd>
              <dt>{p.invite.expiresAt}</dt>
              <dd>{formatDateTime(preview.data.expiresAt, language)}</dd>
            </dl>
            <TextField label={p.users.name} autoComplete="name" value={name} error={errors.name} onChange={(event) => setName(event.target.value)} />
            <TextField
              label={t.login.password}
              type="password"
              autoComplete="new-password"
              value={password}
              error={errors.password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <TextField
              label={p.invite.confirm}
              type="password"
              autoComplete="new-password"
              value={confirm}
              error={errors.confirm}
              onChange={(event) => setConfirm(event.target.value)}
            />
            <ErrorAlert error={failure} fallback={p.common.unexpected} />
            <Button type="submit" className="login__submit" disabled={pending}>
              {pending ? p.invite.accepting : p.invite.accept}
            </Button>
          </form>
        )}
      </main>
    </div>
  );
}
