// docs.test.mjs - the docs stay true to the code: the configuration
// reference in docs/ is what `sluice check --reference` prints, every
// command's --help works, and the embedded default passes `sluice check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, sluice, tmpdir } from './lib.mjs';

test('docs/configuration.md ends with the generated reference', () => {
  const ref = sluice(['check', '--reference']);
  assert.equal(ref.code, 0);
  const doc = fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
  assert.ok(doc.endsWith(ref.stdout), 'regenerate: see the top of docs/configuration.md');
});

test('every command answers --help, and unknown ones are usage errors', () => {
  for (const args of [['--help'], ['run', '--help'], ['check', '--help'], ['gen', '--help'],
    ['log', '--help'], ['log', 'tail', '--help'], ['log', 'verify', '--help']]) {
    const r = sluice(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /usage: sluice/);
  }
  assert.equal(sluice(['frobnicate']).code, 2);
  assert.equal(sluice(['run', '--bogus']).code, 2);
  assert.match(sluice(['version']).stdout, /^sluice \d+\.\d+\.\d+/);
});

test('the embedded default is a valid file, and check names file:line', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'default.yaml');
  fs.writeFileSync(file, sluice(['check', '--default']).stdout);
  const ok = sluice(['check', '-c', file]);
  assert.equal(ok.code, 0, ok.stderr);
  fs.writeFileSync(file, 'log:\n  fsync: never\n');
  const bad = sluice(['check', '-c', file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`${file}:2: fsync must be one of always\\|group\\|os`));
  fs.rmSync(dir, { recursive: true, force: true });
});
