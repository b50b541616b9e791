// Builds the orgstream daemon once for all test files (or uses $ORGSTREAM_BIN).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    orgstreamBin: string;
  }
}

/** The Go module's root: clients/js/test/../../.. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export default function setup(project: TestProject): () => void {
  let bin = process.env.ORGSTREAM_BIN;
  let tmp: string | undefined;
  if (!bin) {
    tmp = mkdtempSync(join(tmpdir(), 'orgstream-js-bin-'));
    bin = join(tmp, 'orgstream');
    execFileSync('go', ['build', '-o', bin, './cmd/orgstream'], { cwd: repoRoot, stdio: 'inherit' });
  }
  project.provide('orgstreamBin', bin);
  return () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
}
