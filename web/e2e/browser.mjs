/**
 * The pieces every end-to-end script shares: Debian's Chromium driven by playwright-core, an
 * accessibility scan with axe-core, screenshots, and what a route downloads.
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Debian's package (`apt-get install chromium`); `CHROMIUM` names another. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Flags for a headless browser that sends nothing beyond the pages it is given. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** Reads a required setting from the environment, or stops with a clear message. */
export function setting(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Keeps screenshots and results under `dir`. */
export function outputDir(dir) {
  mkdirSync(join(dir, 'screenshots'), { recursive: true });
  return dir;
}

export async function screenshot(page, dir, name) {
  await page.screenshot({ path: join(dir, 'screenshots', `${name}.png`), fullPage: true });
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Impacts that fail the scan. */
const BLOCKING = new Set(['serious', 'critical']);

/**
 * Runs axe-core on the page as it is and returns its serious and critical violations.
 * The source is evaluated through the debugging protocol, which the page's CSP does not govern,
 * so the page is scanned under its real policy.
 */
export async function accessibilityViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return violations.filter((v) => BLOCKING.has(v.impact));
}

/**
 * Navigation and Resource Timing of a page that has loaded: time to first byte of the document
 * and of the first call to `/api/` (request sent to first byte), and when each arrived since the
 * navigation started. Milliseconds.
 */
export async function entryTiming(page) {
  return page.evaluate(() => {
    const [navigation] = performance.getEntriesByType('navigation');
    const api = performance
      .getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname.startsWith('/api/'))
      .sort((a, b) => a.startTime - b.startTime)[0];
    return {
      document: { ttfbMs: navigation.responseStart - navigation.requestStart, sinceNavigationMs: navigation.responseStart },
      firstApiCall: api
        ? { path: new URL(api.name).pathname, ttfbMs: api.responseStart - api.requestStart, sinceNavigationMs: api.responseStart }
        : null,
    };
  });
}

/**
 * Milliseconds from the start of the page's navigation until `selector` is in the document,
 * checked on every animation frame in the page itself.
 */
export async function shownAfter(page, selector) {
  const handle = await page.waitForFunction((s) => (document.querySelector(s) ? performance.now() : 0), selector, { polling: 'raf' });
  return handle.jsonValue();
}
