import { describe, expect, it } from 'vitest';
import { en } from './en';
import { detectLanguage, format } from './index';
import { pagesEn } from './pages/en';
import { pagesPtBR } from './pages/pt-BR';
import { ptBR } from './pt-BR';

/** Every key path of a nested dictionary, such as `login.email`. */
function keyPaths(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    typeof child === 'object' && child !== null ? keyPaths(child, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

describe.each([
  ['shell', en, ptBR],
  ['pages', pagesEn, pagesPtBR],
])('the %s dictionaries', (_, en: object, ptBR: object) => {
  it('have exactly the same keys (the type check says so too)', () => {
    expect(keyPaths(ptBR).sort()).toEqual(keyPaths(en).sort());
  });

  it('have no empty text and keep the same placeholders', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
    const lookup = (dictionary: object, path: string) =>
      path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], dictionary) as string;
    for (const path of keyPaths(en)) {
      const english = lookup(en, path);
      const portuguese = lookup(ptBR, path);
      expect(portuguese.trim(), path).not.toBe('');
      expect(placeholders(portuguese), path).toEqual(placeholders(english));
    }
  });
});

describe('detectLanguage', () => {
  it('prefers the stored choice, then the browser, then English', () => {
    expect(detectLanguage('en', ['pt-BR'])).toBe('en');
    expect(detectLanguage(null, ['pt-PT', 'en'])).toBe('pt-BR');
    expect(detectLanguage(null, ['de', 'en-GB'])).toBe('en');
    expect(detectLanguage('klingon', ['fr'])).toBe('en');
  });
});

describe('format', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(format('Try again {when}.', { when: 'in 5 seconds' })).toBe('Try again in 5 seconds.');
    expect(format('{missing}', {})).toBe('{missing}');
  });
});
