import { useNavigate } from 'react-router-dom';
import { Button } from '../components/Button';
import { useSignedIn } from '../components/guards';
import { useI18n } from '../i18n';
import { loginPath, useLogout } from '../session';

/** Who is signed in, and the way out. */
export default function SessionPage() {
  const { user, expiresAt } = useSignedIn();
  const { t, language } = useI18n();
  const logout = useLogout();
  const navigate = useNavigate();

  const endsAt = new Date(expiresAt);
  const endsAtText = Number.isNaN(endsAt.getTime())
    ? expiresAt
    : new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(endsAt);

  const signOut = () =>
    // The login page to go to is read before the cache is cleared; it comes from storage.
    logout.mutate(undefined, { onSuccess: () => navigate(loginPath(), { replace: true }) });

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">{t.session.title}</h1>
      <p>{t.session.intro}</p>
      <dl className="details">
        <dt>{t.session.name}</dt>
        <dd>{user.name || t.session.none}</dd>
        <dt>{t.session.email}</dt>
        <dd>{user.email}</dd>
        <dt>{t.session.role}</dt>
        <dd>{t.roles[user.role]}</dd>
        <dt>{t.session.tenant}</dt>
        <dd>{user.tenantId ?? t.session.none}</dd>
        <dt>{t.session.account}</dt>
        <dd>{user.accountId ?? t.session.none}</dd>
        <dt>{t.session.expiresAt}</dt>
        <dd>
          <time dateTime={expiresAt}>{endsAtText}</time>
        </dd>
      </dl>
      {logout.isError ? (
        <p className="form-error" role="alert">
          {t.session.signOutFailed}
        </p>
      ) : null}
      <Button onClick={signOut} disabled={logout.isPending}>
        {logout.isPending ? t.session.signingOut : t.session.signOut}
      </Button>
    </section>
  );
}
