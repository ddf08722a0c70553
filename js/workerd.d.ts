// Types of `wsengine` in workerd (the "workerd" export condition): everything of
// index.d.ts, and TCP through workerd's connect().

import type { Transport } from './index.js';

export * from './index.js';

/** A TCP (ws:) or TLS (wss:) connection to the URL's host with `connect()`, as a stream pair. */
export function connectTcp(url: URL): Promise<Transport>;
