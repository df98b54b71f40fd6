/**
 * `just bench` (web part): the figures of issue 9 item 7 in headless Chromium, each the median
 * (and p90) of RUNS cold loads in fresh browser contexts, next to a baseline from the same run:
 *
 *   - time to first byte of `/` and of the app's first API call, against the browser's own
 *     `GET /healthz` on the same page (the gateway's cheapest answer);
 *   - the time until a running campaign's page shows its progress, against the time until the
 *     session page (one API call, no polling) shows.
 *
 * Settings (environment): BASE_URL, USER_INVITE (an invitation token of a user), CAMPAIGN_PATH
 * (`/campaigns/<id>` of a running campaign), RUNS (default 15). Prints one JSON object.
 */
import { entryTiming, launch, setting, shownAfter } from './browser.mjs';

const BASE_URL = setting('BASE_URL').replace(/\/$/, '');
const USER_INVITE = setting('USER_INVITE');
const CAMPAIGN_PATH = setting('CAMPAIGN_PATH');
const RUNS = Number(process.env.RUNS || 15);
const PASSWORD = 'correct horse battery staple 42';

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { medianMs: round(at(0.5)), p90Ms: round(at(0.9)), runs: sorted.length };
}

const round = (ms) => Math.round(ms * 100) / 100;

/** A fresh context: an empty HTTP cache, no service worker, as a first visit. */
async function coldPage(browser, storageState) {
  const context = await browser.newContext({ storageState, serviceWorkers: 'block' });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return { context, page };
}

async function signIn(browser) {
  const { context, page } = await coldPage(browser, undefined);
  await page.goto(`${BASE_URL}/invite/${USER_INVITE}`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat the password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await page.waitForURL(`${BASE_URL}/session`);
  const state = await context.storageState();
  await context.close();
  return state;
}

async function main() {
  const browser = await launch();
  try {
    const signedIn = await signIn(browser);
    const samples = { document: [], firstApiCall: [], healthz: [], loginShown: [], sessionShown: [], campaignProgressShown: [] };
    for (let run = 0; run < RUNS; run += 1) {
      {
        const { context, page } = await coldPage(browser, undefined);
        await page.goto(`${BASE_URL}/`);
        samples.loginShown.push(await shownAfter(page, 'input[type=password]'));
        await page.waitForLoadState('networkidle');
        const timing = await entryTiming(page);
        samples.document.push(timing.document.ttfbMs);
        samples.firstApiCall.push(timing.firstApiCall.ttfbMs);
        // The baseline: the same browser, page and connection pool asking for the cheapest route.
        samples.healthz.push(
          await page.evaluate(async () => {
            await (await fetch('/healthz', { cache: 'no-store' })).text();
            // The entry is added once the body is in, which may be a task after `text()`.
            const url = new URL('/healthz', location.href).href;
            for (let tries = 0; tries < 100; tries += 1) {
              const [entry] = performance.getEntriesByName(url);
              if (entry) return entry.responseStart - entry.requestStart;
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            throw new Error('no resource timing entry for /healthz');
          }),
        );
        await context.close();
      }
      {
        const { context, page } = await coldPage(browser, signedIn);
        await page.goto(`${BASE_URL}/session`);
        samples.sessionShown.push(await shownAfter(page, 'dl'));
        await context.close();
      }
      {
        const { context, page } = await coldPage(browser, signedIn);
        await page.goto(`${BASE_URL}${CAMPAIGN_PATH}`);
        samples.campaignProgressShown.push(await shownAfter(page, '#campaign-progress'));
        await context.close();
      }
    }
    const figures = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, summary(values)]));
    const ratio = (a, b) => Math.round((figures[a].medianMs / figures[b].medianMs) * 100) / 100;
    figures.ratios = {
      documentVsHealthz: ratio('document', 'healthz'),
      firstApiCallVsHealthz: ratio('firstApiCall', 'healthz'),
      campaignProgressVsSession: ratio('campaignProgressShown', 'sessionShown'),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench: FAILED: ${error.stack ?? error}\n`);
  process.exit(1);
});
