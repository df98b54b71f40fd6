import { describe, expect, it } from 'vitest';
import { renderTemplate } from './template';

const ana = { name: 'Ana', phone: '5511999990000', fields: { city: 'Recife', plan: '' } };

describe('renderTemplate', () => {
  it('fills variables, defaults and reports missing ones', () => {
    expect(renderTemplate('Hi {{name}} from {{ city }}!', ana)).toEqual({ text: 'Hi Ana from Recife!', missing: [], variants: 1 });
    expect(renderTemplate('{{plan|basic}} / {{coupon|none}}', ana).text).toBe('basic / none');
    expect(renderTemplate('Dear {{title}} {{name}}', ana)).toEqual({ text: 'Dear [title] Ana', missing: ['title'], variants: 1 });
  });

  it('picks the first spintax variant, or the chosen one, and keeps variables apart', () => {
    expect(renderTemplate('{Hi|Hello|Hey} {{name|there}}', ana).text).toBe('Hi Ana');
    expect(renderTemplate('{Hi|Hello|Hey} {{name|there}}', ana, 1)).toEqual({ text: 'Hello Ana', missing: [], variants: 3 });
    // A group with fewer variants keeps its last one.
    expect(renderTemplate('{a|b} {x|y|z}', ana, 2).text).toBe('b z');
    expect(renderTemplate('{Hi|{Hello|Hey} you}', ana, 1).text).toBe('Hey you');
    expect(renderTemplate('no {braces} here', ana).text).toBe('no {braces} here');
  });
});
