/**
 * What FC requires: index.js, a small loader that compiles main.js (the bundle, stored wrapped as
 * Node wraps a CommonJS module) with main.js.cache, V8's code for it taken at build time. Node 20
 * has no module.enableCompileCache (Node >= 22.1), so this does it with vm.Script's cachedData.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BuildError } from './build-error.ts';
import { FC_CODE_DIR, NO_CERT_FILE, ROOT_STORE_DIR } from './root-store.ts';
import type { WarmUpInvocation } from './warm-up.ts';

const execFileAsync = promisify(execFile);

/** The bundle, its code cache, and the loader FC requires (handler `index.handler`). */
export const BUNDLE_FILE = 'main.js';
export const CODE_CACHE_FILE = 'main.js.cache';
/**
 * main.js is stored wrapped as Node wraps a CommonJS module (the wrapper head on a line of its own),
 * so the loader hands V8 the file's text as it is read: wrapping at load time would build a second
 * copy of the whole bundle in the young generation at every cold start.
 */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const WRAPPER_TAIL = '\n})';

/** Wraps the bundle in place (see WRAPPER_HEAD); its source map moves down the one line. */
export function wrapBundle(file: string): void {
  writeFileSync(file, WRAPPER_HEAD + readFileSync(file, 'utf8') + WRAPPER_TAIL);
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { mappings: string };
    map.mappings = `;${map.mappings}`;
    writeFileSync(mapFile, JSON.stringify(map));
  }
}
export const LOADER = `'use strict';
// Loads main.js (the bundle, stored wrapped as Node wraps a CommonJS module) with the V8 code cache
// built beside it; without a usable cache (another V8 build or other flags), V8 compiles main.js as
// require() would.
const { existsSync, readFileSync } = require('fs');
// serverless.yml has OpenSSL read the TLS roots from ${FC_CODE_DIR}/${ROOT_STORE_DIR} (scripts/root-store.ts).
// Code anywhere else reads those beside this file. OpenSSL reads the variables when the first TLS
// context is made, after this (or at start-up, before it, when NODE_EXTRA_CA_CERTS is set).
if (process.env.SSL_CERT_DIR === '${FC_CODE_DIR}/${ROOT_STORE_DIR}' && !existsSync('${FC_CODE_DIR}/${ROOT_STORE_DIR}')) {
  process.env.SSL_CERT_DIR = __dirname + '/${ROOT_STORE_DIR}';
  process.env.SSL_CERT_FILE = __dirname + '/${ROOT_STORE_DIR}/${NO_CERT_FILE}';
}
const { Script } = require('vm');
// The CommonJS Module class itself: require('module') would also load the ESM loader (~0.4 ms).
const Module = module.constructor;
const file = __dirname + '/${BUNDLE_FILE}';
let cachedData;
try { cachedData = readFileSync(__dirname + '/${CODE_CACHE_FILE}'); } catch { cachedData = undefined; }
const script = new Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
const main = new Module(file, module);
main.filename = file;
main.paths = module.paths;
// This file sits beside main.js, so its own require resolves what main.js asks for (builtins,
// ./lazy/<pkg>.js) without Module.createRequire's cost.
script.runInThisContext().call(main.exports, main.exports, require, main, file, __dirname);
main.loaded = true;
module.exports = main.exports;
module.exports.codeCache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
`;

/**
 * Writes main.js.cache: a fresh plain \`node\` (no loader, flags as FC starts it) compiles main.js
 * exactly as LOADER does, initialises the module, runs the warm-up invocation when there is one
 * (its reply must be a 200: a warm-up that fails would cache an error path, and says the bundle or
 * the request is wrong), then asks V8 for the code of every function compiled so far.
 */
export async function writeCodeCache(dir: string, warmUp?: WarmUpInvocation): Promise<number> {
  const script = `
const { readFileSync, writeFileSync } = require('fs'); const { Script } = require('vm'); const Module = require('module');
const dir = process.argv[1]; const file = dir + '/${BUNDLE_FILE}';
const script = new Script(readFileSync(file, 'utf8'), { filename: file });
const main = new Module(file); main.filename = file; main.paths = Module._nodeModulePaths(dir);
script.runInThisContext().call(main.exports, main.exports, Module.createRequire(file), main, file, dir);
const event = process.argv[2];
const warm = event === undefined ? Promise.resolve() : Promise.resolve(main.exports.handler(Buffer.from(event), { requestId: 'build-warm-up' })).then((r) => {
  if (!r || r.statusCode !== 200) throw new Error('warm-up request answered ' + (r ? r.statusCode + ' ' + String(r.body).slice(0, 300) : String(r)));
});
warm.then(() => { writeFileSync(dir + '/${CODE_CACHE_FILE}', script.createCachedData()); process.exit(0); }, (e) => { console.error(e && e.message || e); process.exit(1); });`;
  const args = ['-e', script, dir, ...(warmUp ? [warmUp.event] : [])];
  try {
    await execFileAsync(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...warmUp?.env }, timeout: 60_000 });
  } catch (error) {
    const detail = ((error as { stderr?: string }).stderr || (error as Error).message).trim().split('\n').slice(-3).join(' ');
    throw new BuildError(`build: code cache for ${dir} failed: ${detail}`);
  }
  return statSync(join(dir, CODE_CACHE_FILE)).size;
}
