// The gate's side of GPU sessions: /api/profiles, claim, status, leaving
// the queue, heartbeat, release, and `axon_gate session` routing to the
// caller's own container.  Real nginx and Redis; what the worker publishes
// (profiles, a session's state and upstream) is written into Redis here as
// the worker writes it, and the upstreams are plain node HTTP servers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { Wallet } from 'ethers';
import { Stack, freePort } from './lib/stack.mjs';

// two "session containers": each answers who it is
const containers = ['A', 'B'].map(name => createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ container: name, url: req.url, session: req.headers['x-axon-session'] }));
}));

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
});
after(async () => {
    for (const c of containers) c.close();
    await s.stop();
});

const auth = token => ({ authorization: `Bearer ${token}` });
const api = (path, token, method = 'GET', body) => s.json(path, {
    method,
    headers: { ...(token ? auth(token) : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
});

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
    const none = await api('/api/profiles');
    assert.equal(none.status, 503);
    assert.equal(none.body.error.code, 'worker_unavailable');
    s.redis('SET', 'axon:profiles', JSON.stringify(PROFILES));
    const r = await api('/api/profiles');
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
        const r = await api('/api/session', token, 'POST', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
    }
    const big = await api('/api/session', token, 'POST', { profile: 'small', pad: 'x'.repeat(20000) });
    assert.equal(big.status, 413);
    assert.equal(s.redis('HEXISTS', key, 'session'), '(integer) 0');
});

test('claim without credits for the first minute -> 402 with the figures', async () => {
    const { token } = await signedIn(7);
    const r = await api('/api/session', token, 'POST', { profile: 'large' });
    assert.equal(r.status, 402);
    assert.equal(r.body.error.code, 'insufficient_credits');
    assert.equal(r.body.error.balance_minutes, 7);
    assert.equal(r.body.error.needed_minutes, 8, '4 GPUs x 2 minutes each');
    assert.equal((await api('/api/session', (await signedIn()).token, 'POST', { profile: 'small' })).status, 402, 'no balance at all');
});

test('claim -> 202 queued and a session.claim job; a second claim -> 409; status shows the worker\'s fields', async () => {
    const { w, token, key } = await signedIn(100);
    const r = await api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.status, 'queued');
    const id = r.body.session_id;
    assert.ok(Number.isInteger(id) && id > 0);
    assert.match(jobs(), new RegExp(`session\\.claim\\s+session_id\\s+${id}\\s+wallet\\s+${w.address.toLowerCase()}\\s+profile\\s+small\\s+mode\\s+desktop`));
    assert.equal(s.redis('--raw', 'HGET', key, 'session'), String(id));

    const again = await api('/api/session', token, 'POST', { profile: 'small', mode: 'ssh' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'session_exists');
    assert.equal(again.body.error.session_id, id);

    s.redis('HSET', `axon:session:${id}`, 'position', '2', 'reason', 'waiting for 1 GPU',
            'upstream', '10.0.0.1:5901', 'connect_path', '/desktop/', 'heartbeat', '1');
    const st = await api('/api/session', token);
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
    const ended = await api('/api/session', token);
    assert.equal(ended.body.status, 'ended');
    assert.equal(ended.body.billed_minutes, 3);
    const next = await api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(next.status, 202);
    assert.ok(next.body.session_id > id);
});

test('GET /api/session before any claim -> 404 no_session', async () => {
    const r = await api('/api/session', (await signedIn()).token);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'no_session');
});

test('leaving the queue: 202 and a session.leave job; not queued -> 409', async () => {
    const { token } = await signedIn(10);
    const { body: { session_id: id } } = await api('/api/session', token, 'POST', { profile: 'small' });
    const r = await api('/api/session/queue', token, 'DELETE');
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { session_id: id, status: 'leaving' });
    assert.match(jobs(), new RegExp(`session\\.leave\\s+session_id\\s+${id}\\s`));

    s.redis('HSET', `axon:session:${id}`, 'state', 'running');
    const late = await api('/api/session/queue', token, 'DELETE');
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'not_queued');
    assert.equal((await api('/api/session/queue', (await signedIn()).token, 'DELETE')).status, 404);
});

test('heartbeat: marks the live session, shows the balance; none -> 404', async () => {
    const { token } = await signedIn(50);
    const { body: { session_id: id } } = await api('/api/session', token, 'POST', { profile: 'small' });
    const r = await api('/api/session/heartbeat', token, 'POST');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { session_id: id, status: 'queued', balance_minutes: 50 });
    const at = Number(s.redis('--raw', 'HGET', `axon:session:${id}`, 'heartbeat'));
    assert.ok(Math.abs(at - Date.now() / 1000) < 5);

    const grace = Math.floor(Date.now() / 1000) + 120;
    s.redis('HSET', `axon:session:${id}`, 'grace_until', String(grace));
    const g = await api('/api/session/heartbeat', token, 'POST');
    assert.equal(g.body.grace_until, new Date(grace * 1000).toISOString().replace('.000', ''));

    assert.equal((await api('/api/session/heartbeat', (await signedIn()).token, 'POST')).status, 404);
    assert.equal((await api('/api/session/heartbeat', null, 'POST')).status, 401);
});

test('release: with Bearer, or with {"auth_token"} as the old platform took it; someone else\'s is out of reach', async () => {
    const a = await signedIn(10);
    const b = await signedIn(10);
    const ida = (await api('/api/session', a.token, 'POST', { profile: 'small' })).body.session_id;
    const idb = (await api('/api/session', b.token, 'POST', { profile: 'small' })).body.session_id;

    const r = await api('/api/release', a.token, 'POST');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { session_id: ida, status: 'ending' });
    assert.match(jobs(), new RegExp(`session\\.release\\s+session_id\\s+${ida}\\s`));

    const viaBody = await api('/api/release', null, 'POST', { auth_token: b.token });
    assert.equal(viaBody.status, 202, JSON.stringify(viaBody.body));
    assert.equal(viaBody.body.session_id, idb);

    for (const [body, code] of [
        [{ auth_token: 'forged'.padEnd(43, 'x') }, 'unknown_token'],
        [{ auth_token: 'short' }, 'unknown_token'],
        [{}, 'no_token'],
        [{ auth_token: 42 }, 'no_token'],
    ]) {
        const bad = await api('/api/release', null, 'POST', body);
        assert.equal(bad.status, 401, JSON.stringify(body));
        assert.equal(bad.body.error.code, code);
    }
    assert.equal((await api('/api/release', null, 'POST', 'not json')).status, 400);

    // a third wallet has no session: its release touches nobody's
    const c = await signedIn(10);
    const none = await api('/api/release', c.token, 'POST');
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
    const ida = (await api('/api/session', a.token, 'POST', { profile: 'small' })).body.session_id;
    const idb = (await api('/api/session', b.token, 'POST', { profile: 'small' })).body.session_id;

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
