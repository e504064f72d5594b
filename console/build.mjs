// Builds the console into OUT (node console/build.mjs OUT; make runs it
// into $(B)/console):
//   1. type-checks src/ (tsc --noEmit): a type error fails the build, as a
//      warning fails the C build;
//   2. bundles src/main.ts with the CSS it imports (xterm.js's and ours)
//      with esbuild, minified, for browsers of the last few years, into
//      assets/ with a content hash in each name (nginx lets browsers keep
//      them forever, conf/wharf.conf);
//   3. writes index.html naming those files, the icon, and a .gz beside
//      every text file (nginx's gzip_static sends it; no compression per
//      request).
// Everything is written into a fresh folder beside OUT and renamed into
// place, so a running nginx serves either the old build or the new one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, '../build/console'));

const tsc = spawnSync(process.execPath, [path.join(here, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', here],
  { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('console: type check failed');
  process.exit(1);
}

const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(path.join(tmp, 'assets'), { recursive: true });

const result = await build({
  entryPoints: [path.join(here, 'src/main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: path.join(tmp, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.resolve(f));
const pick = (ext) => {
  const f = outputs.find((o) => o.endsWith(ext) && !o.endsWith('.LEGAL.txt'));
  if (!f) throw new Error(`console: no ${ext} output`);
  return `assets/${path.basename(f)}`;
};
const html = fs.readFileSync(path.join(here, 'index.html'), 'utf8')
  .replaceAll('%JS%', pick('.js'))
  .replaceAll('%CSS%', pick('.css'));
fs.writeFileSync(path.join(tmp, 'index.html'), html);
fs.copyFileSync(path.join(here, 'src/icon.svg'), path.join(tmp, 'icon.svg'));

for (const f of fs.readdirSync(tmp, { recursive: true })) {
  const p = path.join(tmp, f);
  if (fs.statSync(p).isFile() && /\.(html|js|css|svg|txt)$/.test(p)) {
    fs.writeFileSync(`${p}.gz`, zlib.gzipSync(fs.readFileSync(p), { level: 9 }));
  }
}

// The old build goes only once the new one is complete.
const old = `${out}.old-${process.pid}`;
if (fs.existsSync(out)) fs.renameSync(out, old);
fs.renameSync(tmp, out);
fs.rmSync(old, { recursive: true, force: true });

const size = (ext) => outputs.filter((o) => o.endsWith(ext))
  .reduce((s, o) => s + zlib.gzipSync(fs.readFileSync(path.join(out, 'assets', path.basename(o))), { level: 9 }).length, 0);
console.log(`console: built ${path.relative(process.cwd(), out) || out} (gzipped: js ${(size('.js') / 1024).toFixed(1)} KiB, css ${(size('.css') / 1024).toFixed(1)} KiB)`);
