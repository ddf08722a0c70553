// The glue reads a Connection's report and event records from the engine's memory with the
// numbers in js/src/layout.js; the bindings state the same layout (connectionLayout()).
// They must agree, or every event would be misread.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import 'wsengine';
import { connectionLayout } from '../../js/wasm/wsengine.js';
import { EventFlag, EventKind, Flag, RECORD_WORDS, Report, Send } from '../../js/src/layout.js';

const camel = (name) => name.toLowerCase().replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

test('js/src/layout.js matches the bindings\' connectionLayout()', () => {
  const { report, constants } = connectionLayout();
  for (const [name, word] of Object.entries(Report)) assert.equal(report[camel(name)], word, `Report.${name}`);
  assert.equal(report.words, Object.keys(Report).length, 'every report word is named');
  assert.equal(constants.recordWords, RECORD_WORDS);
  for (const [name, v] of Object.entries(EventKind)) assert.equal(constants[camel(name)], v, `EventKind.${name}`);
  for (const [name, v] of Object.entries(EventFlag)) assert.equal(constants[camel(name)], v, `EventFlag.${name}`);
  for (const [name, v] of Object.entries(Flag)) assert.equal(constants[camel(name)], v, `Flag.${name}`);
  for (const [name, v] of Object.entries(Send)) assert.equal(constants[camel(`send_${name}`)], v, `Send.${name}`);
});

// websocket.dll's numbers are the engine's (engineConstants()); js/src/constants.js and
// the literal types in engine.d.ts are copies, checked here both ways.
test('js/src/constants.js and engine.d.ts match the engine\'s constants', async () => {
  const { readFileSync } = await import('node:fs');
  await import('wsengine/engine');
  const { engineConstants } = await import('../../js/wasm/handle.js');
  const js = await import('../../js/src/constants.js');
  const dts = readFileSync(new URL('../../js/engine.d.ts', import.meta.url), 'utf8');
  const { MAX_CLOSE_REASON_LENGTH, ...engine } = engineConstants();
  assert.deepEqual(Object.keys(engine).sort(), ['Action', 'ActionQueue', 'BufferType', 'CloseStatus', 'OutWord']);
  assert.equal(js.MAX_CLOSE_REASON_LENGTH, MAX_CLOSE_REASON_LENGTH);
  assert.match(dts, new RegExp(`export const MAX_CLOSE_REASON_LENGTH: ${MAX_CLOSE_REASON_LENGTH};`));
  for (const [group, values] of Object.entries(engine)) {
    assert.deepEqual({ ...js[group] }, { ...values }, `constants.js ${group}`);
    const declared = dts.match(new RegExp(`export const ${group}: Readonly<\\{([^}]*)\\}>`))?.[1];
    assert.ok(declared, `engine.d.ts declares ${group}`);
    const typed = Object.fromEntries([...declared.matchAll(/(\w+): (0x[0-9a-f]+|\d+)/gi)].map(([, k, v]) => [k, Number(v)]));
    assert.deepEqual(typed, { ...values }, `engine.d.ts ${group}`);
  }
});
