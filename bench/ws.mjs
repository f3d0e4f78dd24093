// A WebSocket stream through the gate (`axon_gate session`, the desktop's
// way) against the same stream through a plain proxy_pass location, and
// through other proxies in front of the same server, for scripts/bench.
// Prints "ws" result lines.
//
//   node bench/ws.mjs GATED_URL PLAIN_URL UPSTREAM_PORT ROUNDS [NAME=URL ...]
//
// GATED_URL and PLAIN_URL are ws:// URLs of the two locations (the gated
// one with ?token=); NAME=URL adds a target of that name (scripts/bench:
// `small`, the plain location with nginx's default buffers; `chp`,
// JupyterHub's configurable-http-proxy).  All proxy to the server this
// script starts on UPSTREAM_PORT.  Per round and target: throughput (the
// server pushes 256 MiB in 64 KiB messages, timed at the client: long
// enough, a quarter second or more, that a scheduling hiccup of the
// shared machine is a small part of it) and
// latency (2,000 one-at-a-time echoes of 64 bytes, p50/p99), after one
// untimed stream on each; the order of the targets turns from round to
// round.

import { WebSocketServer, WebSocket } from 'ws';

const [gated, plain, port, rounds, ...more] = process.argv.slice(2);
const targets = [['gated', gated], ['plain', plain],
    ...more.map((m) => [m.slice(0, m.indexOf('=')), m.slice(m.indexOf('=') + 1)])];
const CHUNK = 64 * 1024;
const TOTAL = 256 * 1024 * 1024;
const ECHOES = 2000;

const chunk = Buffer.alloc(CHUNK, 7);
const wss = new WebSocketServer({ port: Number(port), host: '127.0.0.1' });
wss.on('connection', (ws) => {
    ws.on('message', (m) => {
        const text = String(m);
        if (text === 'stream') {
            let sent = 0;
            const pump = () => {
                while (sent < TOTAL) {
                    sent += CHUNK;
                    ws.send(chunk, { binary: true });
                    // back-pressure: wait for the socket to drain (a
                    // timer would idle 1 ms each time, the same for
                    // every target, flattening their differences)
                    if (ws.bufferedAmount > 4 * CHUNK) {
                        return ws._socket.once('drain', pump);
                    }
                }
                ws.send('end');
            };
            pump();
        } else {
            ws.send(m);
        }
    });
});

function open(url) {
    return new Promise((ok, fail) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.once('open', () => ok(ws));
        ws.once('error', fail);
        ws.once('unexpected-response', (req, res) => fail(new Error(`${url}: HTTP ${res.statusCode}`)));
    });
}

async function throughput(url) {
    const ws = await open(url);
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    await new Promise((ok) => {
        ws.on('message', (m, binary) => {
            if (binary) bytes += m.length;
            else if (String(m) === 'end') ok();
        });
        ws.send('stream');
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    ws.close();
    if (bytes !== TOTAL) throw new Error(`${url}: got ${bytes} of ${TOTAL} bytes`);
    return bytes / secs / 1048576;
}

async function latency(url) {
    const ws = await open(url);
    const msg = Buffer.alloc(64, 1).toString('base64').slice(0, 64);
    const times = [];
    for (let i = 0; i < ECHOES; i++) {
        const t0 = process.hrtime.bigint();
        await new Promise((ok) => { ws.once('message', ok); ws.send(msg); });
        times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    ws.close();
    times.sort((a, b) => a - b);
    return { p50: times[times.length >> 1], p99: times[Math.floor(times.length * 0.99)] };
}

// warm-up, untimed: the first stream of a run pays for JIT and buffers
for (const [, url] of targets) await throughput(url);

for (let r = 1; r <= Number(rounds); r++) {
    // turn which target goes first
    const k = (r - 1) % targets.length;
    const order = [...targets.slice(k), ...targets.slice(0, k)];
    for (const [name, url] of order) {
        const mibs = await throughput(url);
        const { p50, p99 } = await latency(url);
        console.log(`ws target=${name} round=${r} mibs=${mibs.toFixed(1)} p50_us=${p50.toFixed(1)} p99_us=${p99.toFixed(1)}`);
    }
}
wss.close();
process.exit(0);
