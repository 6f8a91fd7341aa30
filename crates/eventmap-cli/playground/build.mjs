// Bundles the playground page's script (src/main.js and the CodeMirror packages that
// package-lock.json pins) into dist/playground.js, which `eventmap playground` serves from
// inside the binary. The output is a pure function of the sources and the locked
// packages, so `node build.mjs --check` (run by tests/playground.rs) rebuilds it in
// memory and fails when the committed file differs.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = `${here}dist/playground.js`;
const check = process.argv.includes('--check');

const result = await esbuild.build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'eof',
  charset: 'utf8',
  write: false,
  logLevel: 'warning',
});
const built = result.outputFiles[0].text;

if (check) {
  const committed = await readFile(out, 'utf8').catch(() => '');
  if (committed !== built) {
    console.error(
      'dist/playground.js is not what the sources build: run `npm ci && npm run build` in crates/eventmap-cli/playground and commit it',
    );
    process.exit(1);
  }
  console.log(`dist/playground.js matches its sources (${built.length} bytes)`);
} else {
  await mkdir(`${here}dist`, { recursive: true });
  await writeFile(out, built);
  console.log(`wrote dist/playground.js (${built.length} bytes)`);
}
