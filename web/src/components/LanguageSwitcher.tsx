import { useId } from 'react';
import { LANGUAGES, useI18n, type Language } from '../i18n';

const CHOICES = Object.entries(LANGUAGES) as Array<[Language, (typeof LANGUAGES)[Language]]>;

export function LanguageSwitcher() {
  const { language, setLanguage, t } = useI18n();
  const id = useId();
  return (
    <div className="language-switcher">
      <label htmlFor={id}>{t.app.language}</label>
      <select id={id} value={language} onChange={(event) => setLanguage(event.target.value as Language)}>
        {CHOICES.map(([code, { label }]) => (
          // Each name in its own language, so a person who cannot read the current one finds theirs.
          <option key={code} value={code} lang={code}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}
