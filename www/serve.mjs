// Serves the playground on loopback: the page (www/) and the npm package it runs on (js/),
// plus /config.json, which tells the page where the WebTransport server is and the SHA-256
// of its certificate (serverCertificateHashes). It starts that server, wsengine-wt
// (hosts/webtransport: the native engine serving WebSocket, echo, on every stream), itself.
//
//   node www/serve.mjs [--port 8080] [--wt target/release/wsengine-wt]
//
// The first line on stdout is the page's URL. Ctrl-C (or SIGTERM) stops both servers.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    wt: { type: 'string', default: join(root, 'target/release/wsengine-wt') },
  },
});
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** Starts wsengine-wt and resolves with its first line: `{ port, certHash }`. */
function startWebTransport() {
  const child = spawn(args.wt, ['127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => child.kill();
  process.once('exit', stop);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${args.wt} exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ ...JSON.parse(line), child }));
  });
}

/** The file a request names: under www/ (the page) or js/ (the package), nothing else. */
function fileFor(pathname) {
  const path = normalize(decodeURIComponent(pathname));
  if (path === '/' || path === sep) return join(root, 'www/index.html');
  for (const dir of ['/www/', '/js/']) {
    if (path.startsWith(dir) && !path.includes('..')) return join(root, path);
  }
  return null;
}

const wt = await startWebTransport();
const config = JSON.stringify({ webTransport: { url: `https://127.0.0.1:${wt.port}/`, certHash: wt.certHash } });
const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  if (pathname === '/config.json') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(config);
    return;
  }
  const file = fileFor(pathname);
  try {
    if (file === null) throw new Error('not served');
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
});
server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/`);
  console.error(`playground: page and package over HTTP, WebTransport (wsengine-wt) on 127.0.0.1:${wt.port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    wt.child.kill();
    process.exit(0);
  });
}
