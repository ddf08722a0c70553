// The Autobahn client loop (for `wstest -m fuzzingserver`) written against the npm
// package's WebSocket facade over Node's TCP: asks for the number of cases, runs each as an
// echo client, then asks for the reports.
//
//   node tests/autobahn/npm_client.mjs ws://127.0.0.1:9001 wsengine-npm

import { WebSocket } from 'wsengine/deflate';

const [base = 'ws://127.0.0.1:9001', agent = 'wsengine-npm'] = process.argv.slice(2);

/** Opens `path`, runs it to its close; `onMessage(ws, data)` answers messages. */
function session(path, onMessage = () => {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/\/$/, '')}${path}`, [], { deflate: { threshold: 0 } });
    ws.binaryType = 'uint8array';
    ws.onmessage = (e) => onMessage(ws, e.data);
    ws.onclose = (e) => resolve(e);
  });
}

let count = '';
await session('/getCaseCount', (_, data) => (count += data));
const cases = Number.parseInt(count, 10);
console.error(`npm_client: ${cases} cases`);
for (let c = 1; c <= cases; c++) {
  await session(`/runCase?case=${c}&agent=${encodeURIComponent(agent)}`, (ws, data) => ws.send(data));
}
await session(`/updateReports?agent=${encodeURIComponent(agent)}`);
console.error('npm_client: reports updated');
