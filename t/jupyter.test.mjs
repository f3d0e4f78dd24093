// Jupyter in the desktop, through the gate: the desktop image's front
// (nginx on its one port) routes /desktop/jupyter/ to Debian's classic
// notebook, and conf/axon.conf's `location /desktop/jupyter/` lets only the
// session's owner through (`axon_gate session`, as the VNC WebSocket).
// Jupyter's own token is the session's VNC password, which keeps out the
// other containers of the session network (they reach the front without
// the gate).  Two wallets each launch a real desktop; a kernel runs code
// over its WebSocket through the gate; a killed Jupyter comes back.
//
// Skips itself, saying so, when the desktop image is not built (make images).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Wallet } from 'ethers';
import WebSocket from 'ws';
import { Stack, waitFor } from './lib/stack.mjs';
import { sessionImage, podman } from './lib/images.mjs';

const { ref: image, skip } = sessionImage('desktop');

const s = new Stack({
    sessions: true,
    env: { AXON_SESSION_IMAGE: image, AXON_SESSION_PORT: '6080' },
    workerConf: [
        'gpu_hosts local=0,1',
        'profiles "small:1:1"',
        'billing_minute 2s',
        'session_grace 4s',
        'billing_tick 200ms',
        'reconcile_interval 2s',
        // two XFCE desktops under load on shared CPUs: a generous wait
        'launcher_timeout 60s',
        'launcher_ready_timeout 3m',
    ].join('\n'),
});

// a wallet with credit and a running desktop: { token, auth, password,
// port, id, name }
async function desktop() {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    const auth = { authorization: `Bearer ${token}` };
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr, 'minutes', '100',
            'ref', `jupyter-${addr}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '100', 'the grant');
    const r = await s.json('/api/session', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: 'small', mode: 'desktop' }) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const st = await waitFor(async () => {
        const b = (await s.json('/api/session', { headers: auth })).body;
        return b.status === 'running' && b;
    }, `session ${r.body.session_id} running`, 4 * 60000);
    const password = st.connect.password;
    assert.match(password, /^[A-Za-z0-9]{8}$/);
    const name = `axgt-${basename(s.dir)}-${st.session_id}`;
    // the container's one port, as the host publishes it
    const port = Number(podman('port', name, '6080/tcp').out.split('\n')[0].split(':').pop());
    assert.ok(port > 0, name);
    return { token, auth, password, port, id: st.session_id, name };
}

let a, b;
before(async () => {
    if (skip) return;
    await s.start();
    [a, b] = await Promise.all([desktop(), desktop()]);
    // Jupyter answers through the gate (it starts after the front)
    for (const u of [a, b]) {
        await waitFor(async () => (await jupyter(u, '/api/status')).status === 200,
                      `Jupyter in ${u.name}`, 2 * 60000);
    }
});
after(async () => { await s.stop(); });

// a request to the owner's Jupyter through the gate, with the gate's token
// in Authorization and Jupyter's in the query
function jupyter(u, path, opts = {}, jtoken = u.password) {
    const q = jtoken ? `${path.includes('?') ? '&' : '?'}token=${jtoken}` : '';
    return s.json(`/desktop/jupyter${path}${q}`, { ...opts, headers: { ...u.auth, ...opts.headers } });
}

test('the owner reaches their Jupyter; no token, another wallet\'s, or no Jupyter token do not', { skip }, async () => {
    const st = await jupyter(a, '/api/status');
    assert.equal(st.status, 200);
    assert.ok('started' in st.body && 'kernels' in st.body, JSON.stringify(st.body));
    const tree = await s.fetch(`/desktop/jupyter/tree?token=${a.password}`, { headers: a.auth });
    assert.equal(tree.status, 200);
    assert.match(await tree.text(), /<title>Home Page - Select or create a notebook<\/title>|Jupyter Notebook/);

    // no gate token: 401, with Jupyter's token in the query or not
    assert.equal((await s.json(`/desktop/jupyter/api/status?token=${a.password}`)).status, 401);
    assert.equal((await s.json('/desktop/jupyter/api/status')).status, 401);
    // the gate's token in the query only: refused, it would go on to Jupyter
    const q = await s.json(`/desktop/jupyter/api/status?token=${a.token}`);
    assert.equal(q.status, 401);
    assert.equal(q.body.error.code, 'no_token');
    // a wallet with no session: the gate's 404
    const c = await s.signIn(Wallet.createRandom());
    const none = await s.json(`/desktop/jupyter/api/status?token=${a.password}`,
                              { headers: { authorization: `Bearer ${c.token}` } });
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'no_session');

    // a wallet with its own desktop reaches its own Jupyter only: with the
    // first one's Jupyter token it is refused there (403), and with its own
    // it lists its own home, not the first one's
    podman('exec', '--user', 'aXonian', a.name, 'touch', '/home/aXonian/only-a.txt');
    const mine = await jupyter(a, '/api/contents');
    assert.ok(mine.body.content.some(f => f.name === 'only-a.txt'), JSON.stringify(mine.body));
    assert.equal((await jupyter(b, '/api/contents', {}, a.password)).status, 403);
    const theirs = await jupyter(b, '/api/contents');
    assert.equal(theirs.status, 200);
    assert.equal(theirs.body.content.some(f => f.name === 'only-a.txt'), false, JSON.stringify(theirs.body));

    // the owner without Jupyter's token: Jupyter's own 403
    assert.equal((await jupyter(a, '/api/status', {}, null)).status, 403);
    // the container's port without the gate (what another container on the
    // session network reaches): the token is the lock
    const direct = await fetch(`http://127.0.0.1:${a.port}/desktop/jupyter/api/status`);
    assert.equal(direct.status, 403);
    const withToken = await fetch(`http://127.0.0.1:${a.port}/desktop/jupyter/api/status?token=${a.password}`);
    assert.equal(withToken.status, 200);
    // and the front still serves noVNC's client, as before it
    assert.equal((await fetch(`http://127.0.0.1:${a.port}/vnc.html`)).status, 200);
});

test('as a browser: the cookies, Jupyter\'s login cookie and _xsrf, a notebook saved', { skip }, async () => {
    const origin = s.url('').replace(/\/$/, '');
    const jar = new Map([['axon_token', a.token]]);
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const keep = res => {
        for (const c of res.headers.getSetCookie()) {
            const [kv] = c.split(';');
            const i = kv.indexOf('=');
            jar.set(kv.slice(0, i), kv.slice(i + 1));
        }
    };
    // the launch page's link: the gate's cookie, Jupyter's token in the
    // query once; Jupyter sets its own cookies
    const first = await s.fetch(`/desktop/jupyter/tree?token=${a.password}`,
                                { headers: { cookie: cookie(), accept: 'text/html' } });
    assert.equal(first.status, 200);
    keep(first);
    assert.ok([...jar.keys()].some(k => k.startsWith('username-')), [...jar.keys()].join(' '));
    assert.ok(jar.has('_xsrf'));
    // then no token in any URL: the cookies only
    const again = await s.fetch('/desktop/jupyter/api/status', { headers: { cookie: cookie() } });
    assert.equal(again.status, 200);
    // a POST with the cookies, from this origin, with the _xsrf header
    const put = await s.json('/desktop/jupyter/api/contents/saved.ipynb', {
        method: 'PUT',
        headers: { cookie: cookie(), origin, 'content-type': 'application/json',
                   'x-xsrftoken': decodeURIComponent(jar.get('_xsrf')) },
        body: JSON.stringify({ type: 'notebook', format: 'json',
                               content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } }),
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(podman('exec', a.name, 'stat', '-c', '%U', '/home/aXonian/saved.ipynb').out, 'aXonian');
    // without the _xsrf header Jupyter refuses it
    const forged = await s.json('/desktop/jupyter/api/contents/forged.ipynb', {
        method: 'PUT', headers: { cookie: cookie(), origin, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'notebook', format: 'json',
                               content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } }),
    });
    assert.equal(forged.status, 403);
    // with the gate's cookie only (no Jupyter cookie): Jupyter's 403, so the
    // gate's cookie is not what Jupyter accepted
    const gateOnly = await s.fetch('/desktop/jupyter/api/status', { headers: { cookie: `axon_token=${a.token}` } });
    assert.equal(gateOnly.status, 403);
});

// print(6*7) in a kernel over its channels WebSocket through the gate:
// the stream output's text
async function run(u, headers = {}) {
    const k = await jupyter(u, '/api/kernels', { method: 'POST', headers: { 'content-type': 'application/json' },
                                                  body: JSON.stringify({ name: 'python3' }) });
    assert.equal(k.status, 201, JSON.stringify(k.body));
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/desktop/jupyter/api/kernels/${k.body.id}/channels` +
                             `?token=${u.password}`, { headers: { ...u.auth, ...headers } });
    const got = [];
    ws.on('message', m => got.push(JSON.parse(m.toString())));
    try {
        await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
        const msgId = randomUUID();
        ws.send(JSON.stringify({
            header: { msg_id: msgId, username: 'test', session: randomUUID(), msg_type: 'execute_request',
                      version: '5.3', date: new Date().toISOString() },
            parent_header: {}, metadata: {}, channel: 'shell', buffers: [],
            content: { code: 'print(6*7)', silent: false, store_history: false, user_expressions: {},
                       allow_stdin: false, stop_on_error: true },
        }));
        const out = await waitFor(() => got.find(m => m.parent_header?.msg_id === msgId && m.msg_type === 'stream'),
                                  'the kernel\'s stream output', 2 * 60000);
        return out.content.text;
    } finally {
        ws.close();
        await jupyter(u, `/api/kernels/${k.body.id}`, { method: 'DELETE' });
    }
}

test('a kernel through the gate: print(6*7) over its WebSocket says 42', { skip }, async () => {
    assert.equal(await run(a), '42\n');
    // as a browser's WebSocket: the gate's Origin, which Jupyter compares
    // with the Host the gate passed on
    assert.equal(await run(a, { origin: s.url('').replace(/\/$/, '') }), '42\n');
});

test('a supervisor starts Jupyter again after kill -9; the session ended, the gate sends nobody on', { skip }, async () => {
    const pid = () => podman('exec', a.name, 'supervisorctl', '-c', '/etc/axon/supervisord.conf', 'pid', 'jupyter').out;
    const before = await waitFor(() => /^\d+$/.test(pid()) && pid(), 'Jupyter running', 30000);
    assert.ok(podman('exec', a.name, 'kill', '-9', before).ok, 'Jupyter killed');
    await waitFor(() => { const p = pid(); return /^\d+$/.test(p) && p !== before; }, 'Jupyter started again', 60000);
    await waitFor(async () => (await jupyter(a, '/api/status')).status === 200, 'Jupyter answering again', 2 * 60000);
    assert.equal(await run(a), '42\n');
    const log = podman('logs', a.name);
    assert.match(log.out + log.err, /exited: jupyter \(terminated by SIGKILL; not expected\)/);
    // the gate's token never reached the container, nor any log of the gate
    assert.equal((log.out + log.err).includes(a.token), false, 'the container\'s log has the token');
    for (const f of readdirSync(s.logs)) {
        assert.equal(readFileSync(join(s.logs, f), 'utf8').includes(a.token), false, `${f} has the token`);
    }

    const rel = await s.json('/api/release', { method: 'POST', headers: a.auth });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
    await waitFor(() => s.psql(`SELECT state FROM sessions WHERE id = ${a.id}`).out === 'ended', 'ended', 60000);
    await waitFor(async () => (await jupyter(a, '/api/status')).status === 404, 'the gate\'s 404', 30000);
});
