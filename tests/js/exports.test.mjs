// The hand-written index.d.ts and the package agree: every name it declares is exported
// (in Node, where the node-only names exist too), and nothing exported is undeclared.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as pkg from 'wsengine';

test('index.d.ts declares exactly what the package exports', () => {
  const dts = readFileSync(new URL('../../js/index.d.ts', import.meta.url), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]));
  const exported = new Set(Object.keys(pkg));
  assert.deepEqual([...declared].filter((n) => !exported.has(n)), [], 'declared but not exported');
  assert.deepEqual([...exported].filter((n) => !declared.has(n)), [], 'exported but not declared');
});
