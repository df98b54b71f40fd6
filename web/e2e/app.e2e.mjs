/**
 * The product in a browser, end to end, against a running gateway and its workers: the
 * superadmin signs in and opens the tenants and the queues; a tenant admin and a user accept
 * their invitations; the user signs out and in again, adds a WhatsApp
 * number, imports a CSV file (one row broken), sends a campaign and watches it complete, gets the
 * live notification, pauses and resumes a second campaign, and downloads a delivery report. Every
 * main page is screenshotted and scanned with axe-core; the figures of issue 9 are measured on
 * the way (time to first byte of `/` and of the first API call, time until a running campaign's
 * page shows its progress, the JavaScript and CSS each route downloads with Brotli and with gzip).
 *
 * Settings (environment):
 *   BASE_URL        the gateway, serving the web app's build
 *   ADMIN_INVITE    an invitation token of a tenant admin (`wmi_...`)
 *   USER_INVITE     an invitation token of a user of the same tenant
 *   WUZAPI_TOKEN    a user token the (fake) WUZAPI server knows
 *   SUPERADMIN_EMAIL the platform's superadmin, whose password is PASSWORD below
 *   OUT_DIR         where screenshots and results.json go
 *
 * Exits 0 when every step passed; otherwise prints the step that failed, keeps a screenshot of
 * every open page (`failure-*.png`) and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessibilityViolations, entryTiming, launch, outputDir, screenshot, setting, shownAfter } from './browser.mjs';

const BASE_URL = setting('BASE_URL').replace(/\/$/, '');
const ADMIN_INVITE = setting('ADMIN_INVITE');
const USER_INVITE = setting('USER_INVITE');
const WUZAPI_TOKEN = setting('WUZAPI_TOKEN');
const OUT_DIR = outputDir(setting('OUT_DIR'));
const PASSWORD = 'correct horse battery staple 42';
const USER_EMAIL = process.env.USER_EMAIL || 'ana@e2e.example';
const SUPERADMIN_EMAIL = setting('SUPERADMIN_EMAIL');

/** Long enough for a debug build on two busy cores; a step that takes longer has failed. */
const STEP_TIMEOUT_MS = 45_000;

const results = { measurements: {}, screenshots: [], accessibility: {}, steps: [] };
const openPages = new Set();

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, body) {
  const started = Date.now();
  process.stderr.write(`e2e: ${name}\n`);
  await body();
  results.steps.push({ name, ms: Date.now() - started });
}

/** Screenshot and accessibility scan of the page as it is now, under `name`. */
async function record(page, name) {
  await page.waitForLoadState('networkidle');
  await screenshot(page, OUT_DIR, name);
  results.screenshots.push(`screenshots/${name}.png`);
  const violations = await accessibilityViolations(page);
  results.accessibility[name] = violations;
  check(violations.length === 0, `serious accessibility violations on ${name}: ${JSON.stringify(violations, null, 2)}`);
}

async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  openPages.add(page);
  page.on('close', () => openPages.delete(page));
  // What a failure needs explaining: the page's errors, and requests that failed.
  page.on('pageerror', (error) => process.stderr.write(`e2e: page error on ${page.url()}: ${error.message}\n`));
  page.on('console', (message) => {
    if (message.type() === 'error') process.stderr.write(`e2e: console error on ${page.url()}: ${message.text()}\n`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) process.stderr.write(`e2e: ${response.status()} for ${response.request().method()} ${response.url()}\n`);
  });
  page.on('requestfailed', (request) => {
    // Leaving a page aborts its live stream and pending reads: that is no failure.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') process.stderr.write(`e2e: request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}\n`);
  });
  return page;
}

async function acceptInvitation(page, token, name) {
  await page.goto(`${BASE_URL}/invite/${token}`);
  await page.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat the password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await page.waitForURL(`${BASE_URL}/session`);
  await page.getByRole('heading', { name: 'Your session' }).waitFor();
}

/** The number shown next to `label` in the campaign page's figures. */
async function campaignFigure(page, label) {
  const text = await page.locator('dl.stats > div').filter({ has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd').textContent();
  return Number(text.replace(/[^\d]/g, ''));
}

async function campaignStatus(page, status) {
  await page.locator('.page h1 + p').getByText(status, { exact: true }).waitFor({ timeout: 90_000 });
}

/** The unread count the shell's bell shows. */
async function unreadCount(page) {
  const label = await page.locator('a.bell').getAttribute('aria-label');
  const match = /(\d+) unread/.exec(label ?? '');
  return match ? Number(match[1]) : 0;
}

/**
 * Creates a campaign to every contact from the new-campaign page; returns its page's URL and the
 * unread count the bell showed before.
 */
async function createCampaign(page, { name, template, delayMinMs, delayMaxMs, recordAs }) {
  await page.goto(`${BASE_URL}/campaigns/new`);
  await page.waitForLoadState('networkidle');
  const unreadBefore = await unreadCount(page);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('WhatsApp number', { exact: true }).selectOption({ label: 'Sales' });
  await page.getByLabel('Message', { exact: true }).fill(template);
  // The preview renders the template for the first contact as it is typed.
  await page.getByTestId('preview').getByText(/^Hi /).waitFor();
  await page.getByRole('button', { name: 'Select the 8 shown' }).click();
  await page.getByText('8 contacts selected').waitFor();
  await page.getByLabel('Shortest pause between messages (ms)', { exact: true }).fill(String(delayMinMs));
  await page.getByLabel('Longest pause between messages (ms)', { exact: true }).fill(String(delayMaxMs));
  if (recordAs) await record(page, recordAs);
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.waitForURL(/\/campaigns\/[0-9a-f-]{36}$/);
  return { url: page.url(), unreadBefore };
}

async function measureEntry(page) {
  // `/` without a session: the app loads, asks for the session, and shows the login page.
  await page.goto(`${BASE_URL}/`);
  const loginShownMs = await shownAfter(page, 'input[type=password]');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.waitForLoadState('networkidle');
  const timing = await entryTiming(page);
  check(timing.firstApiCall, 'the app made no API call while loading');
  results.measurements.ttfb = { ...timing, loginShownMs };
}

/**
 * The JavaScript and CSS each route downloads on a cold load, as the browser received them
 * (compressed body bytes, each file once), once asking for Brotli and once for gzip only.
 * The service worker's own script is left out: it is fetched after the page is up.
 * `storageState` signs the pages in.
 */
async function measureRoutes(browser, routes, storageState, label) {
  const sizes = {};
  for (const encoding of ['br', 'gzip']) {
    for (const route of routes) {
      const context = await browser.newContext({ storageState, serviceWorkers: 'block', extraHTTPHeaders: { 'Accept-Encoding': encoding } });
      const page = await newPage(context);
      const assets = new Map();
      page.on('response', (response) => {
        const path = new URL(response.url()).pathname;
        if (/\.(js|css)$/.test(path) && !assets.has(path)) assets.set(path, response);
      });
      await page.goto(`${BASE_URL}${route}`);
      await page.waitForLoadState('networkidle');
      let bytes = 0;
      for (const [path, response] of assets) {
        const coding = response.headers()['content-encoding'] ?? 'identity';
        check(coding === encoding, `${path} was sent as ${coding} when ${encoding} was asked for`);
        bytes += (await response.request().sizes()).responseBodySize;
      }
      sizes[route] = { ...(sizes[route] ?? {}), [encoding]: bytes, files: assets.size };
      await context.close();
    }
  }
  results.measurements.routes = { ...(results.measurements.routes ?? {}), [label]: sizes };
}

async function main() {
  const browser = await launch();
  try {
    const anonymous = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const first = await newPage(anonymous);
    await step('time to first byte of / and of the first API call', () => measureEntry(first));
    await step('the login page', () => record(first, 'login'));

    // The platform's operator signs in on the platform's login page (no tenant).
    const operatorContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const operator = await newPage(operatorContext);
    await step('the superadmin signs in and sees the tenants and the queues', async () => {
      await operator.goto(`${BASE_URL}/login`);
      await operator.getByLabel('Email', { exact: true }).fill(SUPERADMIN_EMAIL);
      await operator.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await operator.getByRole('button', { name: 'Sign in' }).click();
      await operator.waitForURL(`${BASE_URL}/session`);
      await operator.goto(`${BASE_URL}/admin/tenants`);
      await operator.getByRole('rowheader', { name: 'Tenant e2e-web' }).waitFor();
      await record(operator, 'admin-tenants');
      await operator.goto(`${BASE_URL}/admin/jobs`);
      await operator.getByRole('heading', { name: 'Jobs and queues', level: 1 }).waitFor();
      await record(operator, 'admin-jobs');
      await operatorContext.close();
    });

    // The tenant admin.
    const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const admin = await newPage(adminContext);
    await step('the invitation page', async () => {
      await admin.goto(`${BASE_URL}/invite/${ADMIN_INVITE}`);
      await admin.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
      await record(admin, 'invite');
    });
    await step('a tenant admin accepts an invitation', () => acceptInvitation(admin, ADMIN_INVITE, 'Bia Admin'));
    for (const [path, heading, name] of [
      ['/admin/users', 'Users', 'admin-users'],
      ['/admin/branding', 'Branding', 'admin-branding'],
      ['/admin/plans', 'Plans', 'admin-plans'],
      ['/admin/billing', 'Billing', 'admin-billing'],
      ['/admin/webhooks', 'Webhooks', 'admin-webhooks'],
    ]) {
      await step(`the tenant admin's ${heading} page`, async () => {
        await admin.goto(`${BASE_URL}${path}`);
        await admin.getByRole('heading', { name: heading, level: 1 }).waitFor();
        await record(admin, name);
      });
    }
    const adminState = await adminContext.storageState();

    // The user.
    const userContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', acceptDownloads: true });
    const user = await newPage(userContext);
    await step('a user accepts an invitation', () => acceptInvitation(user, USER_INVITE, 'Ana User'));
    await step('the user signs out, is refused a wrong password, and signs in', async () => {
      await record(user, 'session');
      await user.getByRole('button', { name: 'Sign out' }).click();
      await user.waitForURL(/\/login/);
      await user.getByLabel('Email', { exact: true }).fill(USER_EMAIL);
      await user.getByLabel('Password', { exact: true }).fill('not the password');
      await user.getByRole('button', { name: 'Sign in' }).click();
      await user.getByRole('alert').waitFor();
      check(user.url().includes('/login'), 'a wrong password signed the user in');
      await user.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await user.getByRole('button', { name: 'Sign in' }).click();
      await user.waitForURL(`${BASE_URL}/session`);
    });

    await step('the user adds a WhatsApp number', async () => {
      await user.goto(`${BASE_URL}/inboxes`);
      await user.getByLabel('Name', { exact: true }).fill('Sales');
      await user.getByLabel('WUZAPI user token', { exact: true }).fill(WUZAPI_TOKEN);
      await user.getByRole('button', { name: 'Add number' }).click();
      await user.getByText('Sales was added.').waitFor();
      await user.getByRole('rowheader', { name: 'Sales' }).waitFor();
      await record(user, 'inboxes');
    });

    await step('the user imports a CSV file with one broken row', async () => {
      await user.goto(`${BASE_URL}/contacts/imports`);
      const rows = [
        'phone,name,city',
        '+55 11 99100-0001,Ana,Recife',
        '(11) 99100-0002,Bruno,',
        '11 99100-0003,Carla,Curitiba',
        '+5511991000004,Davi,Natal',
        '11991000005,Eva,Belém',
        '11 9 9100-0006,Fábio,Salvador',
        '+55 (11) 99100-0007,Gabi,Manaus',
        '11991000008,Hugo,Fortaleza',
        'not a phone,Broken,Nowhere',
      ];
      await user.getByLabel('File', { exact: true }).setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n') + '\n') });
      await user.getByLabel('Default country (ISO code)', { exact: true }).fill('BR');
      await user.getByRole('button', { name: 'Upload and import' }).click();
      await user.getByText('contacts.csv was uploaded; its import is queued.').waitFor();
      const row = user.locator('tbody tr', { hasText: 'contacts.csv' }).first();
      await row.getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
      const cells = await row.locator('td.cell--number').allTextContents();
      check(cells.join(',') === '9,8,0,0,1', `read, new, updated, skipped, failed: ${cells}`);
      const [download] = await Promise.all([user.waitForEvent('download'), row.getByRole('link', { name: /failed rows/ }).click()]);
      const errors = await streamText(await download.createReadStream());
      check(errors.includes('not a phone'), `the error file names the broken row: ${errors}`);
      results.measurements.importErrorFile = errors.trim().split('\n');
      await record(user, 'imports');
    });

    await step('the contacts page lists and searches the imported contacts', async () => {
      await user.goto(`${BASE_URL}/contacts`);
      await user.getByText('8 contacts', { exact: true }).waitFor();
      await record(user, 'contacts');
      await user.getByLabel('Search by name or phone', { exact: true }).fill('Carla');
      await user.getByText('1 contacts', { exact: true }).waitFor();
    });

    let unreadBefore;
    await step('the user sends a campaign and watches it complete', async () => {
      ({ unreadBefore } = await createCampaign(user, {
        name: 'Welcome',
        template: 'Hi {{name}}, greetings from {{city|São Paulo}}!',
        delayMinMs: 0,
        delayMaxMs: 100,
        recordAs: 'campaign-new',
      }));
      await campaignStatus(user, 'Completed');
      check((await campaignFigure(user, 'Sent')) === 8, 'all eight messages were sent');
      await user.getByRole('rowheader', { name: '+5511991000008' }).waitFor();
      await record(user, 'campaign-completed');
    });

    await step('a live notification arrives for the completed campaign', async () => {
      // The shell's bell follows the server-sent event stream: the page was not reloaded since.
      const bell = user.getByRole('link', { name: `Notifications, ${unreadBefore + 1} unread` });
      await bell.waitFor();
      await bell.click();
      await user.getByText('Campaign completed').first().waitFor();
      await user.getByText(/Welcome.*completed: 8 sent, 0 failed/).waitFor();
      await record(user, 'notifications');
    });

    await step('the user pauses and resumes a campaign', async () => {
      const { url } = await createCampaign(user, {
        name: 'Reminder',
        template: 'Hi {{name}}, a reminder.',
        delayMinMs: 1500,
        delayMaxMs: 2000,
      });
      await campaignStatus(user, 'Sending');
      // A fresh load of a running campaign's page: how long until it shows live progress.
      const fresh = await newPage(userContext);
      await fresh.goto(url);
      results.measurements.campaignProgressShownMs = await shownAfter(fresh, '#campaign-progress');
      await screenshot(fresh, OUT_DIR, 'campaign-running');
      results.screenshots.push('screenshots/campaign-running.png');
      await fresh.close();

      await user.getByRole('button', { name: 'Pause' }).click();
      await campaignStatus(user, 'Paused');
      const sentWhenPaused = await campaignFigure(user, 'Sent');
      check(sentWhenPaused < 8, `paused before the end (${sentWhenPaused} sent)`);
      await record(user, 'campaign-paused');
      await user.getByRole('button', { name: 'Resume' }).click();
      await campaignStatus(user, 'Completed');
      await user.waitForFunction(() => document.querySelector('#campaign-progress')?.getAttribute('value') === '100');
      check((await campaignFigure(user, 'Sent')) === 8, 'the resumed campaign sent the rest');
      results.measurements.pausedAfterSent = sentWhenPaused;
    });

    await step('the user downloads a delivery report', async () => {
      await user.goto(`${BASE_URL}/reports`);
      await user.getByLabel('Report', { exact: true }).selectOption('campaign_delivery');
      await user.getByLabel('File format', { exact: true }).selectOption('csv');
      await user.getByLabel('Campaign', { exact: true }).selectOption({ label: 'Welcome' });
      await user.getByRole('button', { name: 'Ask for report' }).click();
      await user.getByText('The report is being prepared; it appears below when ready.').waitFor();
      const row = user.locator('tbody tr', { hasText: 'Campaign delivery (CSV)' }).first();
      await row.getByText('Ready', { exact: true }).waitFor({ timeout: 60_000 });
      const [download] = await Promise.all([user.waitForEvent('download'), row.getByRole('link', { name: /^Download/ }).click()]);
      const csv = await streamText(await download.createReadStream());
      const lines = csv.trim().split('\n');
      check(lines.length === 9, `a header and eight recipients: ${csv}`);
      check(lines.some((line) => line.includes('5511991000001')), `the report lists the recipients: ${csv}`);
      results.measurements.reportLines = lines.length;
      await record(user, 'reports');
    });

    const userState = await userContext.storageState();
    await step('the JavaScript and CSS of each route, cold, with Brotli and with gzip', async () => {
      await measureRoutes(browser, ['/login'], undefined, 'anonymous');
      await measureRoutes(browser, ['/session', '/inboxes', '/contacts', '/contacts/imports', '/campaigns', '/campaigns/new', '/reports', '/notifications'], userState, 'user');
      await measureRoutes(browser, ['/admin/users', '/admin/branding', '/admin/plans', '/admin/billing', '/admin/webhooks'], adminState, 'tenantAdmin');
    });
  } catch (error) {
    let n = 0;
    for (const page of openPages) {
      n += 1;
      await screenshot(page, OUT_DIR, `failure-${n}`).catch(() => {});
      process.stderr.write(`e2e: failure-${n}.png is ${page.url()}\n`);
    }
    throw error;
  } finally {
    writeFileSync(join(OUT_DIR, 'results.json'), JSON.stringify(results, null, 2));
    await browser.close();
  }
}

async function streamText(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

main().then(
  () => {
    process.stdout.write(`${JSON.stringify(results.measurements)}\n`);
  },
  (error) => {
    process.stderr.write(`e2e: FAILED: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
