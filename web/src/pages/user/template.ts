/**
 * The campaign template language, rendered in the browser for the live preview (the gateway
 * renders the messages it sends): `{{field}}` and `{{field|default}}` take a contact's value
 * (`name`, `phone` or a custom field), and spintax `{Hi|Hello}` picks one variant per message.
 */

export interface TemplateContact {
  name: string;
  phone: string;
  fields: Record<string, unknown>;
}

export interface Rendered {
  text: string;
  /** Variables without a value and without a default: the gateway refuses such a contact. */
  missing: string[];
  /** The most variants any spintax group has (1 when there is none). */
  variants: number;
}

const VARIABLE = /\{\{\s*([\w.-]+)\s*(?:\|([^{}]*))?\}\}/g;
// An innermost `{a|b}` that is not part of a `{{...}}` variable.
const SPIN = /(?<!\{)\{([^{}]*\|[^{}]*)\}(?!\})/;

function valueOf(contact: TemplateContact, name: string): string | null {
  const raw = name === 'name' ? contact.name : name === 'phone' ? contact.phone : contact.fields[name];
  if (raw === undefined || raw === null) return null;
  const text = String(raw);
  return text === '' ? null : text;
}

/** The message `template` becomes for `contact`, with variant `variant` (0-based) of every spintax group. */
export function renderTemplate(template: string, contact: TemplateContact, variant = 0): Rendered {
  let text = template;
  let variants = 1;
  // Innermost groups first, so `{Hi|{Hello|Hey}}` works too; bounded against pathological input.
  for (let guard = 0; guard < 1000; guard += 1) {
    const match = SPIN.exec(text);
    if (!match) break;
    const options = (match[1] ?? '').split('|');
    variants = Math.max(variants, options.length);
    const chosen = options[Math.min(variant, options.length - 1)] ?? '';
    text = text.slice(0, match.index) + chosen + text.slice(match.index + match[0].length);
  }
  const missing: string[] = [];
  text = text.replace(VARIABLE, (_whole, name: string, fallback: string | undefined) => {
    const value = valueOf(contact, name);
    if (value !== null) return value;
    if (fallback !== undefined) return fallback;
    if (!missing.includes(name)) missing.push(name);
    return `[${name}]`;
  });
  return { text, missing, variants };
}
