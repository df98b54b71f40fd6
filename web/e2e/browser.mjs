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
