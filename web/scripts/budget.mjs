// The bundle budget. For each route, the JS and CSS a browser must fetch before the route shows:
// the entry chunk and its static imports, plus the route's lazy chunk and its static imports, as
// Vite's manifest (dist/.vite/manifest.json) lists them. Each file is compressed as the gateway
// serves it (gzip level 9, Brotli quality 11) and the sizes are added up.
//
// Fails (exit 1) when the login route, the first page anyone sees, loads more than 100 kB
// gzipped, or any route more than 200 kB gzipped. Writes the table to dist/bundle-report.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const KB = 1000; // kB as Vite reports them.
const LOGIN_LIMIT = 100 * KB;
const ROUTE_LIMIT = 200 * KB;

/**
 * Each route and the lazy chunks it waits for, outermost first (names: vite.config.ts, src/App.tsx
 * and src/routes.ts; a lazy layout would come before its page). A lazy chunk that is in no route
 * here fails the budget, so a new page cannot escape it.
 */
// The signed-in shell lazy-loads NotificationBell (unread count, live stream) next to every page.
const ROUTES = [
  { routes: '/login', chunks: ['LoginPage'], limit: LOGIN_LIMIT },
  { routes: '/invite/:token (public)', chunks: ['InvitePage'], limit: ROUTE_LIMIT },
  { routes: '/session', chunks: ['NotificationBell', 'SessionPage'], limit: ROUTE_LIMIT },
  { routes: '/notifications', chunks: ['NotificationBell', 'NotificationsPage'], limit: ROUTE_LIMIT },
  { routes: '/admin/* (superadmin, tenant admin)', chunks: ['NotificationBell', 'chunk-admin'], limit: ROUTE_LIMIT },
  { routes: '/campaigns /contacts /inboxes /reports', chunks: ['NotificationBell', 'chunk-user'], limit: ROUTE_LIMIT },
  { routes: 'any other address (not found)', chunks: ['NotificationBell', 'NotFoundPage'], limit: ROUTE_LIMIT },
];

const manifest = JSON.parse(readFileSync(`${DIST}.vite/manifest.json`, 'utf8'));

const sizeCache = new Map();
function sizesOf(file) {
  if (!sizeCache.has(file)) {
    const source = readFileSync(DIST + file);
    sizeCache.set(file, {
      raw: source.length,
      gzip: gzipSync(source, { level: 9 }).length,
      brotli: brotliCompressSync(source, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 11,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        },
      }).length,
    });
  }
  return sizeCache.get(file);
}

/** The files loaded up front for these manifest entries: themselves and their static imports. */
function initialFiles(keys) {
  const files = new Set();
  const seen = new Set();
  const visit = (key) => {
    if (seen.has(key)) return;
    seen.add(key);
    const chunk = manifest[key];
    if (!chunk) throw new Error(`the manifest has no entry ${key}`);
    files.add(chunk.file);
    for (const css of chunk.css ?? []) files.add(css);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  keys.forEach(visit);
  return [...files].filter((file) => /\.(js|css)$/.test(file)).sort();
}

function total(files) {
  const sum = { raw: 0, gzip: 0, brotli: 0 };
  for (const file of files) {
    const sizes = sizesOf(file);
    sum.raw += sizes.raw;
    sum.gzip += sizes.gzip;
    sum.brotli += sizes.brotli;
  }
  return sum;
}

const entries = Object.entries(manifest);
const entryKey = entries.find(([, chunk]) => chunk.isEntry)?.[0];
if (!entryKey) throw new Error('the manifest has no entry chunk');
const keyByChunkName = new Map(entries.filter(([, chunk]) => chunk.isDynamicEntry).map(([key, chunk]) => [chunk.name, key]));

const problems = [];
for (const name of keyByChunkName.keys()) {
  if (!ROUTES.some((route) => route.chunks.includes(name))) {
    problems.push(`lazy chunk "${name}" is in no route of scripts/budget.mjs: add it`);
  }
}

// The chunk strategy of the product guide (vite.config.ts): exactly these named chunks.
const NAMED_CHUNKS = ['vendor-react', 'vendor-query', 'vendor-ui-radix', 'vendor-forms', 'vendor-utils', 'chunk-admin', 'chunk-user'];
const namedInBuild = [...new Set(entries.map(([, chunk]) => chunk.name).filter((name) => /^(vendor|chunk)-/.test(name)))];
const unexpected = namedInBuild.filter((name) => !NAMED_CHUNKS.includes(name));
const absent = NAMED_CHUNKS.filter((name) => !namedInBuild.includes(name));
if (unexpected.length > 0) problems.push(`chunks outside the strategy: ${unexpected.join(', ')}`);
if (absent.length > 0) problems.push(`named chunks missing from the build: ${absent.join(', ')}`);

// The gateway's CSP allows scripts and styles from 'self' only: index.html must carry none inline.
const html = readFileSync(`${DIST}index.html`, 'utf8');
if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) problems.push('index.html has an inline <script>');
if (/<style\b/i.test(html) || /\sstyle=/i.test(html)) problems.push('index.html has inline styles');

const rows = [{ routes: '(entry alone)', chunks: [], keys: [entryKey], limit: ROUTE_LIMIT }];
for (const route of ROUTES) {
  const keys = route.chunks.map((name) => keyByChunkName.get(name));
  const missing = route.chunks.filter((_, index) => keys[index] === undefined);
  if (missing.length > 0) {
    problems.push(`${route.routes}: ${missing.join(', ')} is not a lazy chunk of this build`);
    continue;
  }
  rows.push({ ...route, keys: [entryKey, ...keys] });
}

const report = rows.map(({ routes, chunks, keys, limit }) => {
  const files = initialFiles(keys);
  const sizes = total(files);
  const ok = sizes.gzip <= limit;
  if (!ok) {
    problems.push(`${routes}: ${(sizes.gzip / KB).toFixed(1)} kB gzipped, over its ${limit / KB} kB budget`);
  }
  return { routes, lazyChunks: chunks, files: files.map((file) => ({ file, ...sizesOf(file) })), ...sizes, limitGzip: limit, ok };
});

const kb = (bytes) => (bytes / KB).toFixed(1);
const header = ['route', 'files', 'raw kB', 'gzip kB', 'brotli kB', 'budget (gzip)', ''];
const table = report.map((row) => [
  row.routes,
  String(row.files.length),
  kb(row.raw),
  kb(row.gzip),
  kb(row.brotli),
  `${row.limitGzip / KB} kB`,
  row.ok ? 'ok' : 'OVER',
]);
const widths = header.map((title, column) => Math.max(title.length, ...table.map((line) => line[column].length)));
const line = (cells) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
console.log(line(header));
console.log(widths.map((width) => '-'.repeat(width)).join('  '));
table.forEach((cells) => console.log(line(cells)));

writeFileSync(
  `${DIST}bundle-report.json`,
  `${JSON.stringify({ unit: 'bytes', compression: { gzip: 'level 9', brotli: 'quality 11' }, routes: report }, null, 2)}\n`,
);

if (problems.length > 0) {
  problems.forEach((problem) => console.error(`budget: ${problem}`));
  process.exit(1);
}
console.log('budget: every route within budget (report in dist/bundle-report.json)');
