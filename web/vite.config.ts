/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { visualizer } from 'rollup-plugin-visualizer';
import { defineConfig, type PluginOption } from 'vite';

/**
 * The named chunks of the product guide. Vendors are split by how often they change and by who
 * needs them, so a deploy that touches only the app keeps the browser's cached vendors, and a user
 * never downloads the admin pages.
 */
const VENDOR_CHUNKS: ReadonlyArray<readonly [chunk: string, packages: RegExp]> = [
  // @remix-run/router is react-router's history and matching core.
  ['vendor-react', /^(react|react-dom|scheduler|react-router|react-router-dom|@remix-run\/router)$/],
  ['vendor-query', /^@tanstack\//],
  ['vendor-ui-radix', /^@radix-ui\//],
  ['vendor-forms', /^(react-hook-form|zod|@hookform\/.*|@standard-schema\/.*)$/],
];

/**
 * Modules of the vendors above that only the lazy pages use (TanStack's infinite queries, for
 * cursor-paged lists). Left to Rollup's own split, they travel with the pages rather than grow
 * vendor-query, which every route (the login page too) loads.
 */
const PAGE_ONLY_VENDOR_MODULES = /\/@tanstack\/(query-core|react-query)\/build\/modern\/(infiniteQueryObserver|useInfiniteQuery)\.js$/;

/** The package a module path belongs to (`@scope/name` or `name`), from its last node_modules. */
function packageOf(modulePath: string): string | undefined {
  const match = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(modulePath);
  return match?.[1];
}

export function chunkFor(moduleId: string): string | undefined {
  const path = moduleId.replaceAll('\\', '/');
  // Rollup's CommonJS interop helper, needed only by React's CommonJS builds.
  if (path.startsWith('\0commonjsHelpers')) return 'vendor-react';
  if (PAGE_ONLY_VENDOR_MODULES.test(path)) return undefined;
  const pkg = packageOf(path);
  if (pkg !== undefined) {
    const named = VENDOR_CHUNKS.find(([, packages]) => packages.test(pkg));
    // Anything else from npm is small glue (clsx, openapi-fetch): one shared utils chunk.
    return named ? named[0] : 'vendor-utils';
  }
  if (path.includes('/src/pages/admin/')) return 'chunk-admin';
  if (path.includes('/src/pages/user/')) return 'chunk-user';
  // Everything else: Rollup's own split (the entry, one chunk per lazy page, shared pieces).
  return undefined;
}

export default defineConfig(() => {
  const plugins: PluginOption[] = [react()];
  if (process.env.ANALYZE === '1') {
    plugins.push(
      visualizer({ filename: 'dist/stats.html', template: 'treemap', gzipSize: true, brotliSize: true }),
    );
  }
  return {
    plugins,
    build: {
      // scripts/budget.mjs reads it to know which files each route loads.
      manifest: true,
      // Every asset is a file: no data: URIs to allow in the gateway's CSP.
      assetsInlineLimit: 0,
      // All supported browsers know <link rel="modulepreload">; the polyfill would only add bytes.
      modulePreload: { polyfill: false },
      rollupOptions: {
        onwarn(warning, warn) {
          // Zod's sources mention `@__PURE__` in prose comments; Rollup drops those comments and
          // says so on every build. Nothing is lost, and the noise would hide real warnings.
          if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/zod/')) return;
          warn(warning);
        },
        output: {
          entryFileNames: 'assets/[name]-[hash].js',
          chunkFileNames: 'assets/[name]-[hash].js',
          assetFileNames: 'assets/[name]-[hash][extname]',
          manualChunks: chunkFor,
          // Only the modules `chunkFor` names go into its chunks. Without this, Rollup also pulls
          // every unassigned dependency of an admin page (i18n, shared components) into
          // chunk-admin, and the login page would then load chunk-admin.
          onlyExplicitManualChunks: true,
        },
      },
    },
    server: {
      // `npm run dev` against a gateway on this machine: same origin for cookies and CSRF.
      proxy: { '/api': process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000' },
    },
    test: {
      environment: 'jsdom',
      setupFiles: ['src/test/setup.ts'],
      include: ['src/**/*.test.{ts,tsx}'],
      css: false,
    },
  };
});
