// The gate's side of GPU sessions: /api/profiles, claim, status, leaving
// the queue, heartbeat, release, and `axon_gate session` routing to the
// caller's own container.  Real nginx and Redis; what the worker publishes
// (profiles, a session's state and upstream) is written into Redis here as
// the worker writes it, and the upstreams are plain node HTTP servers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { Wallet } from 'ethers';
import { WebSocketServer, WebSocket } from 'ws';
import { Stack, BUILD, freePort, waitFor } from './lib/stack.mjs';

// two "session containers": each answers who it is
const containers = ['A', 'B'].map(name => createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ container: name, url: req.url, session: req.headers['x-axon-session'] }));
}));
// and each speaks WebSocket (noVNC's websockify): echoes, and names itself
for (const [i, c] of containers.entries()) {
    const wss = new WebSocketServer({ server: c });
    wss.on('connection', (ws, req) => {
        ws.send(`container ${'AB'[i]} session ${req.headers['x-axon-session']}`);
        ws.on('message', m => ws.send(m));
    });
}

// sessions off (the harness's default): this worker refuses the session
// jobs (dead-lettered), so that what the test writes into Redis by hand
// stays as it wrote it
const s = new Stack({
    nginx: async st => {
        st.gatePort = await freePort();
        return `
server {
    listen 127.0.0.1:${st.gatePort};
    location /desktop/ {
        axon_gate session;
        axon_gate_login /launch.html;
        proxy_set_header X-Axon-Session $axon_session;
        proxy_pass http://$axon_upstream;
    }
    location /websockify {
        axon_gate session;
        axon_activity_interval 1s;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header X-Axon-Session $axon_session;
        proxy_read_timeout 1h;
        proxy_pass http://$axon_upstream;
    }
}
`;
    },
});

const PROFILES = {
    profiles: [
        { name: 'small', gpus: 1, price: 1, available: true },
        { name: 'large', gpus: 4, price: 2, available: false },
    ],
    pool: { gpus: 4, free: 3 },
};

before(async () => {
    for (const c of containers) await new Promise(ok => c.listen(0, '127.0.0.1', ok));
    await s.start();
    // the session counter, as a worker running sessions writes it (this
    // one runs none: the tests write what it would publish)
    s.redis('SET', 'axon:session:next', '0', 'NX');
});
after(async () => {
    for (const c of containers) c.close();
    await s.stop();
});

const auth = token => ({ authorization: `Bearer ${token}` });
async function signedIn(balance) {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    if (balance !== undefined) s.redis('HSET', `axon:wallet:${w.address.toLowerCase()}`, 'balance', String(balance));
    return { w, token, key: `axon:wallet:${w.address.toLowerCase()}` };
}

// the jobs the module queued: still queued, or (until the worker has the
// session job kinds) dead-lettered by it
const jobs = () => s.redis('--raw', 'XRANGE', 'axon:jobs', '-', '+') + '\n' +
                   s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+');

test('GET /api/profiles: 503 until the worker publishes them, then what it published', async () => {
    s.redis('DEL', 'axon:profiles');
    const none = await s.api('/api/profiles');
    assert.equal(none.status, 503);
    assert.equal(none.body.error.code, 'worker_unavailable');
    s.redis('SET', 'axon:profiles', JSON.stringify(PROFILES));
    const r = await s.api('/api/profiles');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, PROFILES);
});

test('claim: bad inputs are 400 and change nothing', async () => {
    const { token, key } = await signedIn(100);
    for (const [body, code] of [
        [{ profile: 'huge' }, 'unknown_profile'],
        [{ profile: '../small' }, 'unknown_profile'],
        [{ profile: 'x'.repeat(40) }, 'unknown_profile'],
        [{ profile: 7 }, 'bad_request'],
        [{}, 'bad_request'],
        [{ profile: 'small', mode: 'vnc' }, 'bad_request'],
        ['{"profile": "small"', 'bad_json'],
        ['[1,2]', 'bad_json'],
    ]) {
        const r = await s.api('/api/session', token, 'POST', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
    }
    const big = await s.api('/api/session', token, 'POST', { profile: 'small', pad: 'x'.repeat(20000) });
    assert.equal(big.status, 413);
    assert.equal(s.redis('HEXISTS', key, 'session'), '(integer) 0');
});

test('claim without credits for the first minute -> 402 with the figures', async () => {
    const { token } = await signedIn(7);
    const r = await s.api('/api/session', token, 'POST', { profile: 'large' });
    assert.equal(r.status, 402);
    assert.equal(r.body.error.code, 'insufficient_credits');
    assert.equal(r.body.error.balance_minutes, 7);
    assert.equal(r.body.error.needed_minutes, 8, '4 GPUs x 2 minutes each');
    assert.equal((await s.api('/api/session', (await signedIn()).token, 'POST', { profile: 'small' })).status, 402, 'no balance at all');
});

test('claim -> 202 queued and a session.claim job; a second claim -> 409; status shows the worker\'s fields', async () => {
    const { w, token, key } = await signedIn(100);
    const r = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.profile, 'small');
    assert.equal(r.body.mode, 'desktop');
    const id = r.body.session_id;
    assert.ok(Number.isInteger(id) && id > 0);
    assert.match(jobs(), new RegExp(`session\\.claim\\s+session_id\\s+${id}\\s+wallet\\s+${w.address.toLowerCase()}\\s+profile\\s+small\\s+mode\\s+desktop`));
    assert.equal(s.redis('--raw', 'HGET', key, 'session'), String(id));

    const again = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'session_exists');
    assert.equal(again.body.error.session_id, id);

    s.redis('HSET', `axon:session:${id}`, 'position', '2', 'reason', 'waiting for 1 GPU',
            'upstream', '10.0.0.1:5901', 'connect_path', '/desktop/', 'heartbeat', '1');
    const st = await s.api('/api/session', token);
    assert.equal(st.status, 200);
    assert.equal(st.body.session_id, id);
    assert.equal(st.body.status, 'queued');
    assert.equal(st.body.profile, 'small');
    assert.equal(st.body.mode, 'desktop');
    assert.equal(st.body.gpus, 1);
    assert.equal(st.body.position, 2);
    assert.equal(st.body.reason, 'waiting for 1 GPU');
    assert.deepEqual(st.body.connect, { path: '/desktop/' });
    assert.match(st.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(st.body.upstream, undefined, 'the container address stays inside');

    // ended: a new claim is allowed
    s.redis('HSET', `axon:session:${id}`, 'state', 'ended', 'end_reason', 'released', 'billed_minutes', '3');
    const ended = await s.api('/api/session', token);
    assert.equal(ended.body.status, 'ended');
    assert.equal(ended.body.billed_minutes, 3);
    const next = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(next.status, 202);
    assert.ok(next.body.session_id > id);
});

// The module sends scripts as EVALSHA with the SHA1 computed at build time;
// a Redis that lost them (restart, SCRIPT FLUSH) answers NOSCRIPT, and that
// one call goes again as EVAL, which caches the script for the next ones.
test('scripts after SCRIPT FLUSH: sign-in, claim and status still work, and Redis has the scripts again', async () => {
    const header = readFileSync(join(BUILD, 'axon_lua.h'), 'utf8');
    const sha = name => header.match(new RegExp(`AXON_LUA_${name}_SHA1\\s+"([0-9a-f]{40})"`))[1];
    const cached = name => s.redis('--raw', 'SCRIPT', 'EXISTS', sha(name));
    const noscript = () => Number(s.redis('--raw', 'INFO', 'errorstats').match(/errorstat_NOSCRIPT:count=(\d+)/)?.[1] ?? 0);

    s.redis('SCRIPT', 'FLUSH');
    const refused = noscript();
    assert.equal(cached('SIGNIN'), '0');
    assert.equal(cached('SESSION_CLAIM'), '0');

    const { w, token } = await signedIn(100);
    assert.equal(cached('SIGNIN'), '1', 'the sign-in went again as EVAL');
    const r = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(cached('SESSION_CLAIM'), '1');
    assert.ok(noscript() >= refused + 2, 'both went first by SHA1 alone, and Redis did not know them');
    assert.match(jobs(), new RegExp(`session\\.claim\\s+session_id\\s+${r.body.session_id}\\s+wallet\\s+${w.address.toLowerCase()}`));

    // cached now: the same scripts by SHA1 alone
    const again = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.session_id, r.body.session_id);
    const st = await s.api('/api/session', token);
    assert.equal(st.status, 200);
    assert.equal(st.body.session_id, r.body.session_id);
    s.redis('HSET', `axon:session:${r.body.session_id}`, 'state', 'ended');
});

test('GET /api/session before any claim -> 404 no_session', async () => {
    const r = await s.api('/api/session', (await signedIn()).token);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'no_session');
});

test('leaving the queue: 202 and a session.leave job; not queued -> 409', async () => {
    const { token } = await signedIn(10);
    const { body: { session_id: id } } = await s.api('/api/session', token, 'POST', { profile: 'small' });
    const r = await s.api('/api/session/queue', token, 'DELETE');
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { session_id: id, status: 'leaving' });
    assert.match(jobs(), new RegExp(`session\\.leave\\s+session_id\\s+${id}\\s`));

    s.redis('HSET', `axon:session:${id}`, 'state', 'running');
    const late = await s.api('/api/session/queue', token, 'DELETE');
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'not_queued');
    assert.equal((await s.api('/api/session/queue', (await signedIn()).token, 'DELETE')).status, 404);
});

test('heartbeat: marks the live session, shows the balance; none -> 404', async () => {
    const { token } = await signedIn(50);
    const { body: { session_id: id } } = await s.api('/api/session', token, 'POST', { profile: 'small' });
    const r = await s.api('/api/session/heartbeat', token, 'POST');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { session_id: id, status: 'queued', balance_minutes: 50 });
    const at = Number(s.redis('--raw', 'HGET', `axon:session:${id}`, 'heartbeat'));
    assert.ok(Math.abs(at - Date.now() / 1000) < 5);

    const grace = Math.floor(Date.now() / 1000) + 120;
    s.redis('HSET', `axon:session:${id}`, 'grace_until', String(grace));
    const g = await s.api('/api/session/heartbeat', token, 'POST');
    assert.equal(g.body.grace_until, new Date(grace * 1000).toISOString().replace('.000', ''));

    assert.equal((await s.api('/api/session/heartbeat', (await signedIn()).token, 'POST')).status, 404);
    assert.equal((await s.api('/api/session/heartbeat', null, 'POST')).status, 401);
});

test('release: with Bearer, or with {"auth_token"} as the old platform took it; someone else\'s is out of reach', async () => {
    const a = await signedIn(10);
    const b = await signedIn(10);
    const ida = (await s.api('/api/session', a.token, 'POST', { profile: 'small' })).body.session_id;
    const idb = (await s.api('/api/session', b.token, 'POST', { profile: 'small' })).body.session_id;

    const r = await s.api('/api/release', a.token, 'POST');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { session_id: ida, status: 'ending' });
    assert.match(jobs(), new RegExp(`session\\.release\\s+session_id\\s+${ida}\\s`));

    const viaBody = await s.api('/api/release', null, 'POST', { auth_token: b.token });
    assert.equal(viaBody.status, 202, JSON.stringify(viaBody.body));
    assert.equal(viaBody.body.session_id, idb);

    for (const [body, code] of [
        [{ auth_token: 'forged'.padEnd(43, 'x') }, 'unknown_token'],
        [{ auth_token: 'short' }, 'unknown_token'],
        [{}, 'no_token'],
        [{ auth_token: 42 }, 'no_token'],
    ]) {
        const bad = await s.api('/api/release', null, 'POST', body);
        assert.equal(bad.status, 401, JSON.stringify(body));
        assert.equal(bad.body.error.code, code);
    }
    assert.equal((await s.api('/api/release', null, 'POST', 'not json')).status, 400);

    // a third wallet has no session: its release touches nobody's
    const c = await signedIn(10);
    const none = await s.api('/api/release', c.token, 'POST');
    assert.equal(none.status, 404);
    assert.doesNotMatch(jobs(), new RegExp(c.w.address.toLowerCase()), 'no job queued');
});

function gate(path, token, headers = {}) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.gatePort, path, agent: false,
                              headers: { ...(token ? auth(token) : {}), ...headers } }, res => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => {
                let body;
                try { body = JSON.parse(text); } catch { body = text; }
                ok({ status: res.statusCode, headers: res.headers, body });
            });
        });
        req.on('error', fail);
        req.end();
    });
}

test('axon_gate session: each wallet reaches its own running container, and nobody else\'s', async () => {
    const a = await signedIn(10);
    const b = await signedIn(10);
    const ida = (await s.api('/api/session', a.token, 'POST', { profile: 'small' })).body.session_id;
    const idb = (await s.api('/api/session', b.token, 'POST', { profile: 'small' })).body.session_id;

    const queued = await gate('/desktop/vnc.html', a.token);
    assert.equal(queued.status, 409);
    assert.equal(queued.body.error.code, 'session_not_running');

    s.redis('HSET', `axon:session:${ida}`, 'state', 'running', 'upstream', `127.0.0.1:${containers[0].address().port}`);
    s.redis('HSET', `axon:session:${idb}`, 'state', 'running', 'upstream', `127.0.0.1:${containers[1].address().port}`);

    const ra = await gate('/desktop/vnc.html?x=1', a.token);
    assert.equal(ra.status, 200);
    assert.deepEqual(ra.body, { container: 'A', url: '/desktop/vnc.html?x=1', session: String(ida) });
    const rb = await gate('/desktop/', b.token);
    assert.equal(rb.body.container, 'B');
    assert.equal(rb.body.session, String(idb));

    // the route follows the session: ended -> 404, at once
    s.redis('HSET', `axon:session:${ida}`, 'state', 'ended');
    const gone = await gate('/desktop/', a.token);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'no_session');

    // a browser is sent to the launch page instead
    const nav = await gate('/desktop/', a.token, { 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302);
    assert.match(nav.headers.location, /\/launch\.html\?next=%2Fdesktop%2F$/);

    // an upstream that could end a URL is never used
    s.redis('HSET', `axon:session:${idb}`, 'upstream', '127.0.0.1:1/evil?');
    assert.equal((await gate('/desktop/', b.token)).status, 409);

    assert.equal((await gate('/desktop/', null)).status, 401);
    assert.equal((await gate('/desktop/', (await signedIn()).token)).status, 404);
});

function openWs(path, headers = {}) {
    return new Promise((ok, fail) => {
        const ws = new WebSocket(`ws://127.0.0.1:${s.gatePort}${path}`, { headers });
        const got = [];
        ws.on('message', m => got.push(String(m)));
        ws.on('open', () => ok({ ws, got }));
        ws.on('unexpected-response', (req, res) => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => fail(Object.assign(new Error(`${res.statusCode}`), { status: res.statusCode, text })));
        });
        ws.on('error', fail);
    });
}

test('WebSocket through axon_gate session: token in the query, own container only, traffic counts as activity', async () => {
    const a = await signedIn(10);
    const b = await signedIn(10);
    const ida = (await s.api('/api/session', a.token, 'POST', { profile: 'small' })).body.session_id;
    s.redis('HSET', `axon:session:${ida}`, 'state', 'running', 'upstream', `127.0.0.1:${containers[0].address().port}`);

    // no token, a forged one, another wallet's (which has no session)
    for (const [path, status] of [
        ['/websockify', 401],
        [`/websockify?token=${'x'.repeat(43)}`, 401],
        [`/websockify?token=${b.token}`, 404],
    ]) {
        const e = await openWs(path).then(() => null, err => err);
        assert.ok(e, `${path} must be refused`);
        assert.equal(e.status, status, path);
    }

    const { ws, got } = await openWs(`/websockify?token=${a.token}`);
    await waitFor(() => got.length >= 1, 'the greeting');
    assert.equal(got[0], `container A session ${ida}`);

    const key = `axon:session:${ida}`;
    const first = Number(s.redis('--raw', 'HGET', key, 'activity'));
    assert.ok(first > 0, 'the upgrade itself counts');
    s.redis('HSET', key, 'activity', '1');
    // traffic for a few intervals: activity is written again
    const t = setInterval(() => ws.send('frame request'), 200);
    try {
        await waitFor(() => Number(s.redis('--raw', 'HGET', key, 'activity')) > 1, 'activity from traffic', 10000);
    } finally {
        clearInterval(t);
    }
    assert.ok(got.includes('frame request'), 'the echo came back');
    ws.close();
});

// ssh-keygen makes real keys of each kind
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function keygen(type, bits) {
    const dir = mkdtempSync(join(tmpdir(), 'axon-key-'));
    try {
        execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []),
                                    '-N', '', '-C', 'agent@ci', '-f', join(dir, 'k')]);
        return readFileSync(join(dir, 'k.pub'), 'utf8').trim();
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

test('SSH mode: the public key is checked strictly before anything is queued', async () => {
    const ed = keygen('ed25519');
    const [, edBlob] = ed.split(' ');
    const bad = [
        ['no key', undefined, /needs "ssh_public_key"/],
        ['an empty key', '', /empty/],
        ['a 1024-bit RSA key', keygen('rsa', 1024), /shorter than 3072 bits/],
        ['a DSA type', `ssh-dss ${edBlob}`, /must start with its type/],
        ['an options prefix', `command="rm -rf /" ${ed}`, /must start with its type/],
        ['truncated base64', `ssh-ed25519 ${edBlob.slice(0, -5)}`, /base64/],
        ['a truncated blob', `ssh-ed25519 ${edBlob.slice(0, -8)}`, /not 32 bytes/],
        ['a mismatched embedded type', `ecdsa-sha2-nistp256 ${edBlob}`, /another type/],
        ['newline injection', `${ed}\nssh-ed25519 ${edBlob} evil`, /one line/],
        ['not a string', 42, /needs "ssh_public_key"/],
        ['garbage', 'ssh-ed25519 !!!!', /base64/],
    ];
    for (const [what, key, why] of bad) {
        const { token, key: wkey } = await signedIn(100);
        const r = await s.api('/api/session', token, 'POST', { profile: 'small', mode: 'ssh', ssh_public_key: key });
        assert.equal(r.status, 400, what);
        assert.equal(r.body.error.code, 'bad_ssh_key', what);
        assert.match(r.body.error.message, why, what);
        assert.equal(s.redis('HEXISTS', wkey, 'session'), '(integer) 0', `${what}: nothing claimed`);
    }

    const desk = await s.api('/api/session', (await signedIn(100)).token, 'POST', { profile: 'small', ssh_public_key: ed });
    assert.equal(desk.status, 400, 'a key is for SSH sessions only');

    for (const key of [ed, keygen('ecdsa', 256), keygen('ecdsa', 384), keygen('ecdsa', 521), keygen('rsa', 3072)]) {
        const { w, token } = await signedIn(100);
        const r = await s.api('/api/session', token, 'POST', { profile: 'small', mode: 'ssh', ssh_public_key: key });
        assert.equal(r.status, 202, `${key.split(' ')[0]}: ${JSON.stringify(r.body)}`);
        assert.ok(jobs().includes(key), 'the key travels in the claim job');
        assert.ok(jobs().includes(w.address.toLowerCase()));
    }
});

test('SSH mode turned off by the operator ("ssh": false in the profiles): 400 ssh_disabled, nothing claimed; desktops go on', async () => {
    const ed = keygen('ed25519');
    s.redis('SET', 'axon:profiles', JSON.stringify({ ...PROFILES, ssh: false }));
    try {
        const { token, key } = await signedIn(100);
        const r = await s.api('/api/session', token, 'POST', { profile: 'small', mode: 'ssh', ssh_public_key: ed });
        assert.equal(r.status, 400);
        assert.equal(r.body.error.code, 'ssh_disabled');
        assert.equal(s.redis('HEXISTS', key, 'session'), '(integer) 0', 'nothing claimed');
        assert.ok(!jobs().includes(ed), 'no job');
        const desk = await s.api('/api/session', token, 'POST', { profile: 'small' });
        assert.equal(desk.status, 202, JSON.stringify(desk.body));

        s.redis('SET', 'axon:profiles', JSON.stringify({ ...PROFILES, ssh: true }));
        const on = await s.api('/api/session', (await signedIn(100)).token, 'POST', { profile: 'small', mode: 'ssh', ssh_public_key: ed });
        assert.equal(on.status, 202, JSON.stringify(on.body));
    } finally {
        s.redis('SET', 'axon:profiles', JSON.stringify(PROFILES));
    }
});

test('x402 is off without axon_x402_network: its routes are 404 JSON', async () => {
    for (const [path, method] of [['/.well-known/x402', 'GET'], ['/api/x402/session', 'GET'],
        ['/api/x402/session', 'POST'], [`/api/x402/payment/0x${'0'.repeat(64)}`, 'GET']]) {
        const r = await s.json(path, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
        assert.equal(r.status, 404, path);
        assert.equal(r.body.error.code, 'not_found', path);
    }
});
