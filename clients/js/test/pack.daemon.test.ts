// The package as users get it: `npm pack` (prepack builds dist and copies the
// LICENSE), the tarball's contents, then an install into a scratch project
// that type-checks a small consumer against the published types and runs it
// against a real daemon.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from './daemon.js';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(pkgDir, 'node_modules', 'typescript', 'bin', 'tsc');
const scratch = mkdtempSync(join(tmpdir(), 'orgstream-js-consumer-'));
const d = new Daemon();
beforeAll(() => d.start());
afterAll(async () => {
  await d.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs a command in dir; a failure carries its output. */
function run(cmd: string, args: string[], dir: string): string {
  try {
    return execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} failed: ${String(err).split('\n')[0].slice(0, 80)}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('npm pack', () => {
  it('packs ESM, types, README and LICENSE, and a consumer installs, type-checks and runs it', async () => {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: pkgDir, encoding: 'utf8' });
    const [info] = JSON.parse(out.slice(out.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path).sort();
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/react.js', 'dist/react.d.ts']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

    const app = join(scratch, 'app');
    cpSync(join(pkgDir, 'test', 'consumer'), app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'out',
          lib: ['ES2022', 'DOM'],
          // Node's types from this package's dev dependencies (the scratch
          // project installs nothing from a registry).
          typeRoots: [join(pkgDir, 'node_modules', '@types')],
          types: ['node'],
        },
        include: ['consumer.ts'],
      }),
    );
    // The package has no dependencies: the install needs no registry.
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(scratch, info.filename)], app);
    expect(readdirSync(join(app, 'node_modules', '@orgstream', 'client'))).toContain('LICENSE');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);

    const org = `consumer-${Date.now()}`;
    const token = d.token({ sub: 'consumer', org });
    const pubToken = d.token({ sub: 'backend', org, scope: 'publish' });
    const res = run(process.execPath, [join(app, 'out', 'consumer.js'), d.url, org, token, pubToken, '3'], app);
    expect(JSON.parse(res.trim())).toEqual({ client: 'orgstream-js/0.1.0', seqs: [1, 2, 3] });
  }, 120_000);
});
