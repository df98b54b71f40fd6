// Fails when src/api/schema.d.ts is not what `npm run gen:api` makes from openapi.json, so the
// committed types cannot drift from the document (after replacing openapi.json, run gen:api).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const committed = join(root, 'src/api/schema.d.ts');
const scratch = mkdtempSync(join(tmpdir(), 'wm-check-api-'));
const fresh = join(scratch, 'schema.d.ts');

try {
  const run = spawnSync(
    join(root, 'node_modules/.bin/openapi-typescript'),
    [join(root, 'openapi.json'), '--output', fresh],
    { cwd: root, encoding: 'utf8' },
  );
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error('check:api: openapi-typescript failed on openapi.json');
    process.exit(1);
  }
  let current = '';
  try {
    current = readFileSync(committed, 'utf8');
  } catch {
    console.error('check:api: src/api/schema.d.ts is missing; run `npm run gen:api`');
    process.exit(1);
  }
  if (readFileSync(fresh, 'utf8') !== current) {
    console.error('check:api: src/api/schema.d.ts differs from what openapi.json generates; run `npm run gen:api`');
    process.exit(1);
  }
  console.log('check:api: src/api/schema.d.ts matches openapi.json');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
