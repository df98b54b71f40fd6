/**
 * A tenant's look on the page. Colours become CSS custom properties on <html>; CSSOM changes
 * like `style.setProperty` are not blocked by `style-src 'self'` (only <style> elements and
 * style attributes in markup are), so the stylesheet stays a plain file.
 */
import { skipToken, useQuery } from '@tanstack/react-query';
import { publicBranding, type Branding, type BrandingLookup } from './api/branding';

const HEX_COLOUR = /^#[0-9a-f]{6}$/i;

/** The public branding for `lookup`; `null` asks for none (the platform's own look). */
export function useBranding(lookup: BrandingLookup | null) {
  return useQuery({
    queryKey: ['branding', lookup],
    queryFn: lookup ? () => publicBranding(lookup) : skipToken,
    // A branding changes rarely; the gateway's ETag makes a refresh cheap anyway.
    staleTime: 5 * 60_000,
    // No tenant behind this slug or host (404), or a host the gateway will not look up: the
    // platform's own look is shown at once instead of after retries.
    retry: false,
  });
}

/** The WCAG relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const channel = (offset: number) => {
    const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Black or white, whichever reads better on `background` (the higher WCAG contrast ratio). */
export function textColourOn(background: string): '#000000' | '#ffffff' {
  const lum = luminance(background);
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? '#000000' : '#ffffff';
}

/** Sets (or, for the platform's defaults, clears) the brand colours and the document title. */
export function applyBranding(branding: Branding | null, fallbackTitle: string): void {
  const root = document.documentElement.style;
  const primary = branding?.primaryColor;
  if (primary && HEX_COLOUR.test(primary)) {
    root.setProperty('--brand-primary', primary);
    root.setProperty('--brand-on-primary', textColourOn(primary));
  } else {
    root.removeProperty('--brand-primary');
    root.removeProperty('--brand-on-primary');
  }
  const secondary = branding?.secondaryColor;
  if (secondary && HEX_COLOUR.test(secondary)) root.setProperty('--brand-secondary', secondary);
  else root.removeProperty('--brand-secondary');
  document.title = branding?.appName || fallbackTitle;
}

/**
 * Whether a tenant could own this host name as its custom domain: a DNS name with a dot, not an
 * IP address or `localhost` (the gateway refuses those as hosts).
 */
export function mayBeCustomHost(hostname: string): boolean {
  return hostname.includes('.') && !/^[\d.]+$/.test(hostname) && !hostname.includes(':');
}
