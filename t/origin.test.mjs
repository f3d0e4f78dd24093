// Sign-in bound to the operator's origin, and the cookie only from it:
// a phishing relay's Host never reaches a message; a browser's Origin must
// be the gate's; a cross-site request
// cannot act with the cookie, Bearer can; an empty cookie hides no other
// carrier; a logout racing a token lookup stays a logout; no token in the
// access log; the local machine is rate-limited unless the stack opts out.
// Real nginx with the module, real Redis (behind a proxy of the test's for
// the race), ethers wallets, raw HTTP with node:http where headers matter.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { createServer, connect } from 'node:net';
import { createHash } from 'node:crypto';
import { Wallet } from 'ethers';
import { Stack, waitFor, freePort } from './lib/stack.mjs';

// ---- a Redis proxy between nginx and Redis --------------------------------
// It forwards both ways; armed with a token's hash, it holds every reply on
// the first connection that asks Redis for that token (GET axon:token:HASH)
// until released.  One connection per nginx worker process.

const proxy = {
    conns: [],
    armed: null,
    held: null,
    arm(hash) { this.armed = `\r\nGET\r\n$75\r\naxon:token:${hash}\r\n`; this.held = null; },
    release() {
        const c = this.held;
        this.armed = null;
        this.held = null;
        if (c) {
            c.hold = false;
            for (const b of c.queue.splice(0)) c.client.write(b);
        }
    },
};

const proxyServer = createServer(client => {
    const c = { client, hold: false, queue: [], tail: '' };
    const upstream = connect(s.redisPort, '127.0.0.1');
    proxy.conns.push(c);
    client.on('data', d => {
        const text = c.tail + d.toString('latin1');
        c.tail = text.slice(-200);
        if (proxy.armed && !proxy.held && text.includes(proxy.armed)) {
            // before Redis sees the GET: its answer is held
            c.hold = true;
            proxy.held = c;
        }
        upstream.write(d);
    });
    upstream.on('data', d => { if (c.hold) c.queue.push(d); else client.write(d); });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end); upstream.on('error', end);
    client.on('close', end); upstream.on('close', end);
});

const s = new Stack({
    nginx: async st => {
        st.racePort = await freePort();
        // a server of the test's: one listening socket per worker process
        // (reuseport), so that two connections can be on two workers; /pid
        // says which
        return `
server {
    listen 127.0.0.1:${st.racePort} reuseport;
    location /api/ { axon_api; }
    location = /pid { return 200 $pid; }
}
`;
    },
    env: {},
});

before(async () => {
    await new Promise(ok => proxyServer.listen(0, '127.0.0.1', ok));
    s.opts.env.AXON_NGINX_REDIS = `127.0.0.1:${proxyServer.address().port}`;
    await s.start();
});
after(async () => {
    proxy.release();
    proxyServer.close();
    for (const c of proxy.conns) c.client.destroy();
    await s.stop();
});

// node:http: the Host, Origin and Fetch metadata a test chooses
function raw(path, { method = 'GET', headers = {}, body, port = s.port, agent = false } = {}) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, res => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => {
                let json;
                try { json = JSON.parse(text); } catch { json = text; }
                ok({ status: res.statusCode, headers: res.headers, body: json });
            });
        });
        req.on('error', fail);
        req.end(body);
    });
}

const here = () => `127.0.0.1:${s.port}`;
const hashOf = token => createHash('sha256').update(token).digest('hex');
const bearer = token => ({ authorization: `Bearer ${token}` });
const cookie = token => ({ cookie: `axon_token=${token}` });

async function challenge(w, headers) {
    return raw(`/api/auth/challenge?address=${w.address}`, { headers });
}

async function verify(message, signature, headers = {}) {
    return raw('/api/auth/verify-wallet', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ message, signature }),
    });
}

// ---- item 2: the sign-in origin ---------------------------------------------

test('a phishing relay: its Host never names the message, its own domain is refused', async () => {
    const w = Wallet.createRandom();

    // the relay asks with its own Host: the message still names this gate
    const c = await challenge(w, { host: 'evil.example' });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.doesNotMatch(c.body.message, /evil\.example/);
    const lines = c.body.message.split('\n');
    assert.equal(lines[0], `${here()} wants you to sign in with your Ethereum account:`);
    assert.ok(lines.includes(`URI: http://${here()}/`));

    // a message naming the relay's domain, signed, posted with its Host
    const forged = c.body.message.replaceAll(here(), 'evil.example');
    const v = await verify(forged, await w.signMessage(forged), { host: 'evil.example' });
    assert.equal(v.status, 401);
    assert.equal(v.body.error.code, 'domain_mismatch');
    assert.equal(v.headers['content-type'], 'application/json');
    assert.equal(s.redis('--raw', 'EXISTS', `axon:challenge:${c.body.nonce}`), '1', 'nonce not burnt');

    // and with the relay's page as Origin: refused at the challenge already
    const o = await challenge(w, { host: 'evil.example', origin: 'https://evil.example' });
    assert.equal(o.status, 401);
    assert.equal(o.body.error.code, 'domain_mismatch');
});

test('a browser\'s Origin: the gate\'s own (127.0.0.1 or localhost) signs in, another is 401 domain_mismatch', async () => {
    // 127.0.0.1: the first domain
    let w = Wallet.createRandom();
    let c = await challenge(w, { origin: `http://${here()}` });
    assert.equal(c.status, 200);
    assert.ok(c.body.message.startsWith(`${here()} wants you`));
    let v = await verify(c.body.message, await w.signMessage(c.body.message), { origin: `http://${here()}` });
    assert.equal(v.status, 200, JSON.stringify(v.body));
    assert.equal(v.body.wallet, w.address);

    // localhost: its own domain and URI
    const local = `localhost:${s.port}`;
    w = Wallet.createRandom();
    c = await challenge(w, { origin: `http://${local}` });
    assert.equal(c.status, 200);
    assert.ok(c.body.message.startsWith(`${local} wants you`), c.body.message);
    assert.ok(c.body.message.split('\n').includes(`URI: http://${local}/`));
    const sig = await w.signMessage(c.body.message);

    // that message from a page elsewhere, or from the other origin: refused
    for (const origin of ['http://evil.example', `http://${here()}`, `https://${local}`, 'null']) {
        v = await verify(c.body.message, sig, { origin });
        assert.equal(v.status, 401, origin);
        assert.equal(v.body.error.code, 'domain_mismatch', origin);
    }
    v = await verify(c.body.message, sig, { origin: `http://${local}` });
    assert.equal(v.status, 200, JSON.stringify(v.body));

    // a challenge asked from another page: 401 JSON, nothing stored
    for (const origin of ['http://evil.example', `http://127.0.0.1:${s.port + 1}`, 'null']) {
        c = await challenge(w, { origin });
        assert.equal(c.status, 401, origin);
        assert.equal(c.body.error.code, 'domain_mismatch', origin);
        assert.equal(c.headers['cache-control'], 'no-store');
    }
});

// ---- item 7: the cookie only from the gate's own pages ----------------------

test('a cross-site request cannot act with the cookie (403 cross_site); Bearer and same-origin can', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const heartbeat = headers => raw('/api/session/heartbeat', { method: 'POST', headers });

    for (const [what, headers] of [
        ['another site\'s Origin', { origin: 'http://evil.example' }],
        ['a sibling port', { origin: `http://127.0.0.1:${s.port + 1}` }],
        ['Origin null', { origin: 'null' }],
        ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
        ['Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site', origin: 'http://sub.127.0.0.1.nip.io' }],
        ['neither header (curl)', {}],
    ]) {
        const r = await heartbeat({ ...cookie(token), ...headers });
        assert.equal(r.status, 403, what);
        assert.equal(r.body.error.code, 'cross_site', what);
        assert.equal(r.headers['content-type'], 'application/json', what);
        assert.equal(r.headers['cache-control'], 'no-store', what);
    }

    // logout from another site: refused, the token still works
    const out = await raw('/api/auth/logout', { method: 'POST', headers: { ...cookie(token), origin: 'http://evil.example' } });
    assert.equal(out.status, 403);
    assert.equal(out.body.error.code, 'cross_site');
    assert.equal((await raw('/api/me', { headers: bearer(token) })).status, 200);

    // the desktop's WebSocket with the cookie from another site
    const ws = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
                 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    let r = await raw('/desktop/websockify', { headers: { ...ws, ...cookie(token), origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'cross_site');
    r = await raw('/desktop/websockify', { headers: { ...ws, ...cookie(token), origin: `http://${here()}` } });
    assert.equal(r.status, 404, 'past the gate: no session');

    // the gate's own pages: Origin, or Sec-Fetch-Site same-origin; Bearer
    // from anywhere; a GET with the cookie from anywhere (reading)
    for (const [what, headers] of [
        ['same Origin', { ...cookie(token), origin: `http://${here()}` }],
        ['the localhost origin', { ...cookie(token), origin: `http://localhost:${s.port}` }],
        ['Sec-Fetch-Site same-origin', { ...cookie(token), 'sec-fetch-site': 'same-origin' }],
        ['Bearer from another site', { ...bearer(token), origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }],
    ]) {
        r = await heartbeat(headers);
        assert.equal(r.status, 404, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'no_session', what);
    }
    r = await raw('/api/me', { headers: { ...cookie(token), origin: 'http://evil.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.wallet, w.address);

    const own = await raw('/api/auth/logout', { method: 'POST', headers: { ...cookie(token), origin: `http://${here()}` } });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((await raw('/api/me', { headers: bearer(token) })).status, 401);
});

test('an empty carrier is no carrier: an empty cookie hides neither ?token= nor Bearer', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    for (const [what, path, headers] of [
        ['empty cookie, query', `/api/me?token=${token}`, { cookie: 'axon_token=' }],
        ['empty cookie among others, query', `/api/me?token=${token}`, { cookie: 'a=1; axon_token=; b=2' }],
        ['empty cookie, Bearer', '/api/me', { cookie: 'axon_token=', ...bearer(token) }],
        ['empty Bearer, query', `/api/me?token=${token}`, { authorization: 'Bearer ' }],
    ]) {
        const r = await raw(path, { headers });
        assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.wallet, w.address, what);
    }
    const none = await raw('/api/me?token=', { headers: { cookie: 'axon_token=' } });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'no_token');
});

// ---- item 7: a logout racing a token lookup ---------------------------------

// a keep-alive connection to the race server, and the worker process on it
async function workerConnection() {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const r = await raw('/pid', { port: s.racePort, agent });
    return { agent, pid: Number(r.body) };
}

test('a logout while another worker process looks the token up: the token stays revoked', async () => {
    // two connections on two worker processes (each has its own Redis
    // connection through the proxy)
    const a = await workerConnection();
    let b;
    for (let i = 0; i < 200 && !b; i++) {
        const c = await workerConnection();
        if (c.pid !== a.pid) b = c; else c.agent.destroy();
    }
    assert.ok(b, 'a connection on the other worker process');

    try {
        for (let round = 0; round < 3; round++) {
            const w = Wallet.createRandom();
            const { token } = await s.signIn(w);

            // worker A asks Redis for the token; Redis answers (valid), the
            // answer is held on its way back to A
            proxy.arm(hashOf(token));
            const lookup = raw('/api/me', { port: s.racePort, agent: a.agent, headers: bearer(token) });
            await waitFor(() => proxy.held, 'worker A asking Redis for the token');

            // meanwhile worker B logs the token out: DEL in Redis, dropped
            // from the shared cache
            const out = await raw('/api/auth/logout', { port: s.racePort, agent: b.agent, method: 'POST', headers: bearer(token) });
            assert.equal(out.status, 200, JSON.stringify(out.body));

            // now A gets the answer from before the DEL: its request may
            // pass (it asked first), the cache must not keep the token
            proxy.release();
            await lookup;

            for (const agent of [a.agent, b.agent, false]) {
                const r = await raw('/api/me', { port: s.racePort, agent, headers: bearer(token) });
                assert.equal(r.status, 401, `round ${round}: the revoked token is refused`);
                assert.equal(r.body.error.code, 'unknown_token');
            }
        }
    } finally {
        proxy.release();
        a.agent.destroy();
        b?.agent.destroy();
    }
});

// ---- item 7: logs -------------------------------------------------------------

test('no token in the logs of conf/axon.conf\'s server, however it came', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    // a running desktop whose container is gone: nginx logs the failed
    // connect() at [error], with the request line
    const addr = w.address.toLowerCase();
    const id = 800000000 + Math.floor(Math.random() * 1000000);
    s.redis('HSET', `axon:session:${id}`, 'id', String(id), 'wallet', addr, 'state', 'running',
            'mode', 'desktop', 'gpus', '1', 'upstream', '127.0.0.1:1');
    s.redis('HSET', `axon:wallet:${addr}`, 'session', String(id));
    const ws = await raw(`/desktop/websockify?token=${token}`, { headers: { connection: 'Upgrade', upgrade: 'websocket' } });
    assert.equal(ws.status, 502);
    await waitFor(() => s.log('nginx-error.log').includes('/desktop/websockify?token=- HTTP/1.1'),
                  'the failed connect() in the error log');
    // the access log has no Referer (a page's URL can hold a token); the
    // error log's lines have the request's, which nginx adds itself
    const paths = [`/api/me?token=${token}`, `/api/me?x=1&token=${token}&y=2`, `/desktop/websockify?token=${token}`,
                   `/api/me?TOKEN=${token}`, `/novnc/vnc.html?path=desktop%2Fwebsockify%3Ftoken%3D${token}`,
                   `/novnc/package.json?token=${token}`];
    for (const path of paths) {
        await raw(path, { headers: { referer: `http://${here()}/novnc/vnc.html?path=desktop%2Fwebsockify%3Ftoken%3D${token}` } });
    }
    await raw('/api/auth/logout', { method: 'POST', headers: bearer(token) });
    // each request is logged after its answer: wait for the last one
    await waitFor(() => s.log('nginx-access.log').includes(`"POST /api/auth/logout HTTP/1.1" 200`),
                  'the requests in the access log');
    const log = s.log('nginx-access.log');
    assert.ok(log.includes(`${w.address} [`), 'the wallet is logged');
    assert.ok(log.includes('"GET /api/me HTTP/1.1" 200'));
    assert.equal(log.includes(token), false, 'no token in the access log');
    assert.equal(s.log('nginx-error.log').includes(token), false, 'nor in the error log');
});

// ---- item 7: the sign-in limits for the local machine -----------------------

test('conf/axon.conf limits 127.0.0.1 too unless the stack opts out; the 429 is JSON, no-store', async () => {
    const limited = new Stack({ env: { AXON_LIMIT_LOCAL: '1' } });
    await limited.start();
    try {
        const path = `/api/auth/challenge?address=${Wallet.createRandom().address}`;
        const answers = [];
        for (let i = 0; i < 40; i++) answers.push(await raw(path, { port: limited.port }));
        const refused = answers.filter(a => a.status === 429);
        assert.ok(refused.length > 0, '127.0.0.1 is limited');
        assert.equal(refused[0].body.error.code, 'rate_limited');
        assert.equal(refused[0].headers['content-type'], 'application/json');
        assert.equal(refused[0].headers['cache-control'], 'no-store');
        assert.equal(refused[0].headers['retry-after'], '1');
    } finally {
        await limited.stop();
    }
    // this stack opted out (as make run does): 127.0.0.1 is not limited
    const path = `/api/auth/challenge?address=${Wallet.createRandom().address}`;
    for (let i = 0; i < 40; i++) assert.equal((await raw(path)).status, 200);
});
