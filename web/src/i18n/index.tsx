import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en } from './en';
import { ptBR } from './pt-BR';

/** Every language has exactly the keys of the English dictionary. */
export type Dictionary = typeof en;

export const LANGUAGES = {
  en: { label: 'English', dictionary: en },
  'pt-BR': { label: 'Português (Brasil)', dictionary: ptBR },
} as const satisfies Record<string, { label: string; dictionary: Dictionary }>;

export type Language = keyof typeof LANGUAGES;

const STORAGE_KEY = 'wm_lang';

function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && Object.hasOwn(LANGUAGES, value);
}

/**
 * The language to start with: the one the person chose before, else the first of the browser's
 * preferred languages that we have (any Portuguese is served Brazilian Portuguese), else English.
 */
export function detectLanguage(stored: string | null, preferred: readonly string[]): Language {
  if (isLanguage(stored)) return stored;
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower === 'pt' || lower.startsWith('pt-')) return 'pt-BR';
    if (lower === 'en' || lower.startsWith('en-')) return 'en';
  }
  return 'en';
}

function readStoredLanguage(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (privacy settings); the browser's languages still apply.
    return null;
  }
}

export function initialLanguage(): Language {
  return detectLanguage(readStoredLanguage(), navigator.languages ?? [navigator.language]);
}

/** Fills `{name}` placeholders; an unknown placeholder is left as is so a typo shows. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

interface I18nContextValue {
  language: Language;
  t: Dictionary;
  setLanguage: (language: Language) => void;
}

const I18nContext = createContext<I18nContextValue | null>(null);

export function I18nProvider({ initial, children }: { initial: Language; children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(initial);

  // Screen readers and the browser's hyphenation read <html lang>, so it follows the choice.
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  const setLanguage = useCallback((next: Language) => {
    setLanguageState(next);
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered across visits, still applied now.
    }
  }, []);

  const value = useMemo(
    () => ({ language, t: LANGUAGES[language].dictionary, setLanguage }),
    [language, setLanguage],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18nContextValue {
  const value = useContext(I18nContext);
  if (value === null) throw new Error('useI18n needs an <I18nProvider> above it');
  return value;
}
