import { Link } from 'react-router-dom';
import { Button } from '../components/Button';
import { useI18n } from '../i18n';

export default function NotFoundPage() {
  const { t } = useI18n();
  return (
    <section className="page">
      <p role="alert">{t.errors.notFound}</p>
      <Button asChild variant="secondary">
        <Link to="/">{t.errors.backHome}</Link>
      </Button>
    </section>
  );
}
