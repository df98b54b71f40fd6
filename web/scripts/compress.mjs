// Writes `<file>.br` (Brotli, quality 11) and `<file>.gz` (gzip, level 9) next to every text file
// of dist/, so the gateway can serve them precompressed instead of compressing on each request.
// Node's zlib has both: no dependency.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const COMPRESSIBLE = /\.(js|css|html|svg|json|webmanifest)$/;

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

async function* filesUnder(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

export async function compressFile(path) {
  const source = await readFile(path);
  const [br, gz] = await Promise.all([
    brotli(source, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: source.length,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      },
    }),
    gzipAsync(source, { level: 9 }),
  ]);
  await Promise.all([writeFile(`${path}.br`, br), writeFile(`${path}.gz`, gz)]);
  return { size: source.length, br: br.length, gz: gz.length };
}

async function main() {
  await stat(DIST).catch(() => {
    throw new Error(`${DIST} does not exist: run vite build first`);
  });
  let count = 0;
  let before = 0;
  let afterBr = 0;
  for await (const path of filesUnder(DIST)) {
    if (!COMPRESSIBLE.test(path)) continue;
    const { size, br } = await compressFile(path);
    count += 1;
    before += size;
    afterBr += br;
    if (process.env.VERBOSE) console.log(`${relative(DIST, path)}: ${size} -> ${br} (br)`);
  }
  console.log(`compress: ${count} files, ${(before / 1024).toFixed(1)} KiB -> ${(afterBr / 1024).toFixed(1)} KiB with Brotli`);
}

await main();
