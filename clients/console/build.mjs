// Builds the console into transport/console/dist (index.html, app.js,
// app.css), which the daemon embeds. Deterministic: the same sources and
// the pinned esbuild give the same bytes, so the committed dist can be
// checked against the sources.
//
//   node build.mjs              build into ../../transport/console/dist
//   node build.mjs --out DIR    build into DIR
//   node build.mjs --check      build into a temp dir, fail if it differs from dist
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const committed = resolve(here, '../../transport/console/dist');

// The hash in ?v= and in the daemon's ETag: the first 16 hex digits of the
// SHA-256 of the file (transport/console computes the same).
const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

// React (and its scheduler) come from this package's node_modules, also for
// ../js/src/react.tsx: one copy of React in the bundle, whatever ../js has
// installed.
const oneReact = {
  name: 'one-react',
  setup(build) {
    build.onResolve({ filter: /^(react|react-dom|scheduler)(\/.*)?$/ }, (args) => {
      if (args.pluginData === 'one-react') return undefined;
      return build.resolve(args.path, { resolveDir: here, kind: args.kind, pluginData: 'one-react' });
    });
  },
};

export async function build(outDir) {
  const result = await esbuild.build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    jsx: 'automatic',
    charset: 'utf8',
    legalComments: 'eof',
    sourcemap: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    loader: { '.css': 'css' },
    plugins: [oneReact],
    logLevel: 'warning',
    write: false,
    outdir: outDir,
    absWorkingDir: here,
  });
  mkdirSync(outDir, { recursive: true });
  const files = {};
  for (const f of result.outputFiles) files[f.path.slice(outDir.length + 1)] = f.contents;
  if (!files['app.js'] || !files['app.css']) throw new Error('build: esbuild produced ' + Object.keys(files).join(', '));
  const template = readFileSync(join(here, 'src/index.html'), 'utf8');
  const html = template
    .replace('{{app.css}}', '/console/app.css?v=' + hash(files['app.css']))
    .replace('{{app.js}}', '/console/app.js?v=' + hash(files['app.js']));
  files['index.html'] = Buffer.from(html, 'utf8');
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outDir, name), bytes);
  return Object.keys(files).sort();
}

function check() {
  const tmp = mkdtempSync(join(tmpdir(), 'orgstream-console-'));
  return build(tmp)
    .then((names) => {
      const have = readdirSync(committed).sort();
      const stale = [];
      if (have.join() !== names.join()) stale.push(`files: committed ${have.join(', ')}; built ${names.join(', ')}`);
      for (const n of names) {
        let old = null;
        try {
          old = readFileSync(join(committed, n));
        } catch {
          // listed above
        }
        if (old && !old.equals(readFileSync(join(tmp, n)))) stale.push(`${n} differs`);
      }
      if (stale.length > 0) {
        console.error('transport/console/dist is not the build of clients/console (run make console):\n  ' + stale.join('\n  '));
        process.exitCode = 1;
      } else {
        console.log(`transport/console/dist is up to date (${names.join(', ')})`);
      }
    })
    .finally(() => rmSync(tmp, { recursive: true, force: true }));
}

const args = process.argv.slice(2);
if (args[0] === '--check') {
  await check();
} else {
  const out = args[0] === '--out' && args[1] ? resolve(args[1]) : committed;
  const names = await build(out);
  console.log(`built ${names.join(', ')} into ${out}`);
}
