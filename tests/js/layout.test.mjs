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
