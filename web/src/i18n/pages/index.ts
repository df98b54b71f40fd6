/**
 * The pages' texts. They live apart from `../en.ts` and `../pt-BR.ts` (which hold the login page
 * and the shell) because those two are in the entry chunk, which every visitor of the login page
 * downloads: the pages' texts would push the login route over its 100 kB budget. Only lazy chunks
 * import this module. `pt-BR.ts` is typed as `PageDictionary`, so a missing key fails the type
 * check, and `src/i18n/i18n.test.ts` checks keys and placeholders at run time.
 */
import { useI18n, type Language } from '../index';
import { pagesEn } from './en';
import { pagesPtBR } from './pt-BR';

export type PageDictionary = typeof pagesEn;

export const PAGE_DICTIONARIES: Record<Language, PageDictionary> = { en: pagesEn, 'pt-BR': pagesPtBR };

/** The shell's dictionary (`t`), the pages' dictionary (`p`) and the language. */
export function usePageText() {
  const { t, language } = useI18n();
  return { t, p: PAGE_DICTIONARIES[language], language };
}

/** A date and time in the reader's language; an unparsable value is shown as it came. */
export function formatDateTime(value: string | null | undefined, language: Language): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

export function formatNumber(value: number, language: Language): string {
  return new Intl.NumberFormat(language).format(value);
}
