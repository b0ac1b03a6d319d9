/**
 * The build's esbuild plugins: what a function bundle leaves out (optional packages that are not
 * installed), loads late (@middy/core's stream modules, a builtin imported with import()) or splits
 * off to be required on first use (a package imported with import(), into lazy/<pkg>.js).
 */
import type { Plugin } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Some dependencies require() an OPTIONAL package that is not installed, on a path that never
 * runs unless configured (urllib, under @alicloud/fc2, loads `proxy-agent` only when a proxy is
 * enabled). Leave exactly those imports external, as they are unbundled, instead of failing; any
 * other unresolvable import still fails the build.
 */
export function optionalDependencyExternals(leftExternal: Set<string>): Plugin {
  const SKIP = Symbol('optional-externals');
  return {
    name: 'optional-dependency-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === SKIP || args.path.startsWith('node:')) return undefined;
        const attempt = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: SKIP });
        if (attempt.errors.length === 0) return attempt;
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]!;
        const owner = owningPackage(args.importer);
        if (owner && isOptional(owner.json, name)) {
          leftExternal.add(`${name} (optional dependency of ${owner.json.name ?? owner.dir}, not installed)`);
          return { path: args.path, external: true };
        }
        return attempt;
      });
    },
  };
}

interface PackageJson {
  name?: string;
  optionalDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function owningPackage(file: string): { dir: string; json: PackageJson } | undefined {
  let dir = dirname(file);
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const json = JSON.parse(readFileSync(candidate, 'utf8')) as PackageJson;
      if (json.name) return { dir, json };
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isOptional(pkg: PackageJson, name: string): boolean {
  return Boolean(pkg.optionalDependencies?.[name] || pkg.peerDependenciesMeta?.[name]?.optional);
}

/**
 * @middy/core imports node:stream, node:stream/promises and node:stream/web at the top for its
 * response-streaming mode, which FC functions never use; loading them costs ~3 ms of every cold
 * start. Inside @middy/core only, they become getters that load the module on first use.
 */
export function lazyMiddyStreams(): Plugin {
  // What @middy/core imports from each; a new name there fails the build ("No matching export").
  const NAMES: Record<string, string[]> = {
    'node:stream': ['Readable'],
    'node:stream/promises': ['pipeline'],
    'node:stream/web': ['ReadableStream'],
  };
  return {
    name: 'lazy-middy-streams',
    setup(build) {
      build.onResolve({ filter: /^node:stream(\/promises|\/web)?$/ }, (args) =>
        /[\\/]@middy[\\/]core[\\/]/.test(args.importer) ? { path: args.path, namespace: 'lazy-builtin' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
        loader: 'js',
        contents: [
          // A stand-in that loads the real export on first get, call, construct or instanceof.
          'const lazy = (load) => new Proxy(function () {}, {',
          '  get: (_, k) => Reflect.get(load(), k),',
          '  has: (_, k) => k in load(),',
          '  apply: (_, self, args) => Reflect.apply(load(), self, args),',
          '  construct: (_, args) => Reflect.construct(load(), args),',
          '});',
          `let m; const mod = () => (m ??= require(${JSON.stringify(args.path)}));`,
          ...(NAMES[args.path] ?? []).map((n) => `export const ${n} = lazy(() => mod().${n});`),
        ].join('\n'),
      }));
    },
  };
}

/** `@alicloud/fc2` -> `lazy/alicloud__fc2.js`: a plain file name per package. */
export const lazyFileName = (pkg: string): string => `lazy/${pkg.replace(/^@/, '').replace(/\//g, '__')}.js`;

/**
 * Every `import('pkg')` of a bare package name (not a node: builtin, not a relative path) becomes a
 * tiny inlined module `module.exports = require('./lazy/<pkg>.js')`, so esbuild keeps it behind its
 * lazy wrapper (run when the import() is reached) and the require() stays CommonJS (no ESM loader,
 * named exports as the package has them). The packages seen are collected in `lazy`. A static import
 * of the same package elsewhere is still inlined (it is needed at start-up anyway).
 */
export function splitLazyPackages(lazy: Set<string>): Plugin {
  return {
    name: 'split-lazy-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.path.startsWith('node:')) return undefined;
        lazy.add(args.path);
        return { path: args.path, namespace: 'lazy-package' };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(`./${lazyFileName(args.path)}`)});`,
      }));
      build.onResolve({ filter: /^\.\/lazy\//, namespace: 'lazy-package' }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/**
 * An `import('node:x')` becomes `module.exports = require('node:x')` behind esbuild's lazy wrapper,
 * loaded when the import() is reached as before. esbuild would leave the import() in CommonJS
 * output, where the loader's vm.Script cannot run it ("A dynamic import callback was not
 * specified"; assertNoDynamicImport) and a plain require()d bundle would load Node's ESM loader for
 * it. The benchmarks bundle their baselines with it too.
 */
export function builtinImportsAsRequire(): Plugin {
  return {
    name: 'builtin-imports-as-require',
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'lazy-builtin-import' } : undefined));
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin-import' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
      }));
    },
  };
}
