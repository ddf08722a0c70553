// The playground page: a client and a server handle joined by an in-memory pipe
// (loopback), or the client alone over a WebTransport stream to wsengine-wt (network), with
// every action, every frame and each handle's state on screen.

import { BufferType } from '/js/src/engine/browser.js';
import { clientHandshake, serverHandshake } from '/www/handshake.js';
import { Endpoint, Playground, actionName, isOver, memoryPipe, tap, typeName } from '/www/host.js';
import { WireReader, hex, opcodeName } from '/www/wire.js';

const $ = (selector, root = document) => root.querySelector(selector);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });
const LOG_LIMIT = 1000;
const WIRE_LIMIT = 400;

const INTRO = {
  loopback:
    'Two handles of the engine live in this page, a client and a server, joined by an in-memory byte pipe. Send from either side and watch each action the engine asks for, every frame on the wire and both handles’ states. Step mode carries out one action per click.',
  network:
    'The page’s client handle speaks WebSocket over a WebTransport stream to wsengine-wt on this machine: the native engine as the server, echoing each message. Same views, real network.',
};

let mode = 'loopback';
let playground = null;
/** The WebTransport session of network mode, closed on reset. */
let transport = null;
let seq = 0;
/** Bumped on every reset: work of an older session must not touch the page. */
let session = 0;

// ---------------------------------------------------------------- views

function element(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

/** Scrolls a list to its newest entry (the list only, never the page). */
function toEnd(scroller) {
  scroller.scrollTop = scroller.scrollHeight;
}

function log(side, { call, action, type, bytes, note }) {
  const body = $('#log tbody');
  const row = element(
    'tr',
    { class: `${side}${note?.startsWith('refused') ? ' refused' : ''}` },
    element('td', {}, String(++seq)),
    element('td', { class: 'side' }, side),
    element('td', {}, call),
    element('td', {}, action === undefined ? '' : actionName(action)),
    element('td', {}, type ? typeName(type) : ''),
    element('td', {}, bytes === undefined ? '' : String(bytes)),
    element('td', { class: 'note' }, note ?? ''),
  );
  body.append(row);
  while (body.rows.length > LOG_LIMIT) body.rows[0].remove();
  toEnd($('.log-scroll'));
}

function wireEntry(direction, entry) {
  const list = $('#wire');
  const arrow = direction === 'c2s' ? 'client → server' : 'server → client';
  const li = element('li', { class: direction });
  li.append(element('span', { class: 'dir' }, arrow));
  if (entry.kind === 'http') {
    const first = entry.text.split('\r\n')[0];
    li.append(element('span', { class: 'op' }, 'HTTP'), `${first} (${entry.length} bytes)`);
    li.append(element('pre', {}, entry.text.split('\r\n').slice(1).join('\n')));
  } else if (entry.kind === 'bad') {
    li.append(element('span', { class: 'op' }, 'UNREADABLE'), entry.note);
  } else {
    const h = entry.header;
    const flag = (on, text) => element('span', { class: `f${on ? '' : ' off'}` }, text);
    li.append(
      element('span', { class: 'op' }, opcodeName(h.opcode)),
      flag(h.fin, 'FIN'),
      flag(h.rsv !== 0, `RSV ${h.rsv.toString(2).padStart(3, '0')}`),
      flag(h.masked, h.masked ? `MASK ${hex(entry.bytes.subarray(h.headerLength - 4, h.headerLength))}` : 'MASK'),
      flag(true, `len ${h.payloadLength}`),
    );
    const view = element('div', { class: 'hexview' });
    const keyAt = h.masked ? h.headerLength - 4 : h.headerLength;
    view.append(
      element('span', { class: 'hdr' }, hex(entry.bytes.subarray(0, keyAt))),
      ' ',
      h.masked ? element('span', { class: 'key' }, hex(entry.bytes.subarray(keyAt, h.headerLength))) : '',
      h.masked ? ' ' : '',
      hex(entry.bytes.subarray(h.headerLength), 48),
      h.payloadLength > 48 ? ` … (${h.payloadLength - 48} more)` : '',
    );
    li.append(view);
  }
  list.append(li);
  while (list.children.length > WIRE_LIMIT) list.firstElementChild.remove();
  toEnd(list);
}

/** One endpoint's panel: its state, composer, close handshake and messages. */
function panel(id, name) {
  const root = $(`#${id}`);
  root.replaceChildren($('#endpoint').content.cloneNode(true));
  $('.name', root).textContent = name;
  const form = $('.composer', root);
  const fields = () => {
    const kind = form.kind.value;
    // websocket.dll's pings and unsolicited pongs carry no data; a close has its own fields.
    const bare = kind === 'ping' || kind === 'pong';
    form.payload.hidden = kind === 'close' || bare;
    form.code.hidden = form.reason.hidden = kind !== 'close';
    form.hex.parentElement.hidden = kind === 'binary' || kind === 'close' || bare;
    form.payload.placeholder = kind === 'binary' || form.hex.checked ? '48 65 6c 6c 6f' : kind === 'fragments' ? 'one|two|three' : 'Hello, engine';
  };
  form.kind.addEventListener('change', fields);
  form.hex.addEventListener('change', fields);
  fields();
  const view = {
    root,
    form,
    endpoint: null,
    state(state) {
      const badge = $('.state', root);
      badge.textContent = state;
      badge.dataset.state = state;
      // Sending stays possible after the close: the engine's refusal is part of the lesson.
      $('button[type=submit]', form).disabled = !view.endpoint;
      if (isOver(state)) view.closing(`handle ${state}`);
    },
    error(text) {
      $('.error', root).textContent = text;
    },
    message({ type, bytes, pieces }) {
      const text = type === BufferType.UTF8_MESSAGE;
      const li = element(
        'li',
        {},
        element('span', { class: 'kind' }, `${text ? 'text' : 'binary'} · ${bytes.length} B${pieces > 1 ? ` · ${pieces} pieces` : ''}`),
        element('span', { class: 'body' }, text ? decoder.decode(bytes) : hex(bytes, 64) || '(empty)'),
      );
      $('.messages', root).append(li);
      toEnd($('.messages', root));
    },
    closing(line) {
      const box = $('.closing', root);
      box.hidden = false;
      box.append(element('div', {}, line));
    },
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    view.error('');
    if (!view.endpoint) return;
    try {
      submit(view);
    } catch (e) {
      view.error(describe(e));
    }
  });
  return view;
}

function describe(e) {
  if (e?.name === 'WebSocketError') {
    return `${e.message} — WebSocketError ${e.kind}, HRESULT 0x${(e.hresult >>> 0).toString(16).toUpperCase()}`;
  }
  return e?.message ?? String(e);
}

/** Reads hex pairs ("48 65 6c", "48656c"); throws on anything else. */
function parseHex(text) {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`not hex bytes: “${text}”`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** The composer's input as sends on the view's endpoint. */
function submit(view) {
  const { form, endpoint } = view;
  const kind = form.kind.value;
  const raw = form.payload.value;
  const bytes = () => (kind === 'binary' || form.hex.checked ? parseHex(raw) : encoder.encode(raw));
  const run = () => playground.kick();
  if (kind === 'close') {
    const code = form.code.value.trim();
    if (code === '') {
      endpoint.send(BufferType.CLOSE, undefined);
      view.closing('sent an empty close');
    } else {
      const status = Number(code);
      if (!Number.isInteger(status) || status < 0 || status > 65535) throw new Error(`not a close code: “${code}”`);
      endpoint.send(BufferType.CLOSE, { status, reason: encoder.encode(form.reason.value) });
      view.closing(`sent close ${status}${form.reason.value ? ` “${form.reason.value}”` : ''}`);
    }
  } else if (kind === 'fragments') {
    const parts = form.hex.checked ? [bytes()] : raw.split('|').map((p) => encoder.encode(p));
    parts.forEach((p, i) => endpoint.send(i === parts.length - 1 ? BufferType.UTF8_MESSAGE : BufferType.UTF8_FRAGMENT, p));
  } else if (kind === 'ping' || kind === 'pong') {
    endpoint.send(kind === 'ping' ? BufferType.PING_PONG : BufferType.UNSOLICITED_PONG, undefined);
  } else {
    endpoint.send(kind === 'text' ? BufferType.UTF8_MESSAGE : BufferType.BINARY_MESSAGE, bytes());
  }
  run();
}

function events(side, view) {
  const mine = session;
  const live = (fn) => (...args) => mine === session && fn(...args);
  return {
    log: live((entry) => log(side, entry)),
    message: live((m) => view.message(m)),
    close: live(({ status, reason, replied }) => {
      const why = reason.length ? ` “${decoder.decode(reason)}”` : '';
      view.closing(`received close ${status}${why}${replied ? ' → answering with the same' : ' (the answer to ours)'}`);
    }),
    state: live((s) => view.state(s)),
    error: live((e) => view.error(describe(e))),
    wake: live(() => queueMicrotask(() => mine === session && playground.kick())),
  };
}

function showPending(pending) {
  $('#pending').textContent = playground?.stepMode && pending ? 'actions waiting' : '';
}

// ---------------------------------------------------------------- modes

async function start() {
  session++;
  playground?.dispose();
  transport?.close();
  transport = null;
  playground = new Playground(showPending);
  playground.stepMode = $('#step-mode').checked;
  seq = 0;
  $('#log tbody').replaceChildren();
  $('#wire').replaceChildren();
  $('#intro').textContent = INTRO[mode];
  for (const b of document.querySelectorAll('.modes button')) b.setAttribute('aria-selected', String(b.id === `mode-${mode}`));
  const client = panel('client', mode === 'loopback' ? 'Client' : 'Client (this page)');
  client.state('connecting');
  if (mode === 'loopback') await loopback(client, panel('server', 'Server'));
  else network(client);
}

async function loopback(clientView, serverView) {
  const mine = session;
  serverView.state('connecting');
  const [a, b] = memoryPipe();
  const c2s = new WireReader((e) => mine === session && wireEntry('c2s', e));
  const s2c = new WireReader((e) => mine === session && wireEntry('s2c', e));
  const clientStream = tap(a, (bytes) => c2s.push(bytes));
  const serverStream = tap(b, (bytes) => s2c.push(bytes));
  const [c, s] = await Promise.all([
    clientHandshake(clientStream, { url: 'ws://loopback/playground', protocols: ['chat.v2'] }),
    serverHandshake(serverStream, { protocols: ['chat.v2'] }),
  ]);
  if (mine !== session) {
    c.handle.free();
    s.handle.free();
    return;
  }
  log('client', { call: 'handshake', note: `GET /playground → 101 Switching Protocols, subprotocol ${c.protocol}` });
  log('server', { call: 'handshake', note: `upgrade accepted, subprotocol ${c.protocol}` });
  clientView.endpoint = new Endpoint('client', c.handle, clientStream, events('client', clientView));
  serverView.endpoint = new Endpoint('server', s.handle, serverStream, events('server', serverView));
  playground.add(clientView.endpoint);
  playground.add(serverView.endpoint);
  clientView.state(c.handle.state);
  serverView.state(s.handle.state);
  playground.kick();
}

function network(clientView) {
  const server = $('#server');
  server.replaceChildren(
    element('header', {}, element('h2', { class: 'name' }, 'Server: wsengine-wt'), element('span', { class: 'state', id: 'wt-state' }, 'not connected')),
    element(
      'div',
      { class: 'network-info' },
      element('p', {}, 'The native engine behind a WebTransport endpoint on 127.0.0.1, serving WebSocket on every bidirectional stream and echoing each message. Its certificate is self-signed (ECDSA, 14 days); the page pins it by hash.'),
      element('p', { id: 'wt-where' }, ''),
      element('button', { class: 'primary', id: 'connect' }, 'Connect'),
      element('p', { class: 'error', id: 'wt-error' }),
    ),
  );
  $('#connect').addEventListener('click', () => {
    if (clientView.endpoint) {
      // Connected before: a fresh page state, then a new connection.
      start().then(() => $('#connect').click());
      return;
    }
    connect(clientView).catch((e) => {
      $('#wt-error').textContent = describe(e);
      $('#connect').disabled = false;
    });
  });
}

async function connect(clientView) {
  const mine = session;
  $('#connect').disabled = true;
  $('#wt-error').textContent = '';
  if (typeof WebTransport !== 'function') throw new Error('this browser has no WebTransport');
  const config = await (await fetch('/config.json')).json();
  const { url, certHash } = config.webTransport;
  $('#wt-where').replaceChildren('at ', element('code', {}, url), ', certificate SHA-256 ', element('code', {}, hex(Uint8Array.from(certHash), 8) + ' …'));
  const wt = new WebTransport(url, { serverCertificateHashes: [{ algorithm: 'sha-256', value: Uint8Array.from(certHash) }] });
  wt.closed.catch(() => {});
  transport = wt;
  await wt.ready;
  const bidi = await wt.createBidirectionalStream();
  const c2s = new WireReader((e) => mine === session && wireEntry('c2s', e));
  const s2c = new WireReader((e) => mine === session && wireEntry('s2c', e));
  const stream = tap(bidi, (bytes) => c2s.push(bytes), (bytes) => s2c.push(bytes));
  const c = await clientHandshake(stream, { url: 'ws://127.0.0.1/playground', protocols: ['chat.v2'] });
  if (mine !== session) {
    c.handle.free();
    wt.close();
    return;
  }
  const badge = $('#wt-state');
  badge.textContent = 'connected';
  badge.dataset.state = 'open';
  log('client', { call: 'handshake', note: `over WebTransport: GET /playground → 101, subprotocol ${c.protocol}` });
  const ev = events('client', clientView);
  const showState = ev.state;
  ev.state = (state) => {
    showState(state);
    if (isOver(state) && mine === session) {
      badge.textContent = 'stream closed';
      badge.dataset.state = 'closed';
      const again = $('#connect');
      again.textContent = 'Connect again';
      again.disabled = false;
    }
  };
  clientView.endpoint = new Endpoint('client', c.handle, stream, ev);
  playground.add(clientView.endpoint);
  clientView.state(c.handle.state);
  playground.kick();
}

// ---------------------------------------------------------------- controls

$('#mode-loopback').addEventListener('click', () => {
  mode = 'loopback';
  start();
});
$('#mode-network').addEventListener('click', () => {
  mode = 'network';
  start();
});
$('#reset').addEventListener('click', () => start());
$('#step-mode').addEventListener('change', (e) => {
  playground.stepMode = e.target.checked;
  $('#step').disabled = !e.target.checked;
  playground.kick();
});
$('#step').addEventListener('click', () => {
  if (!playground.step()) log('page', { call: 'step', note: 'nothing to do: no action is ready' });
  showPending(playground.pending());
});

start();
