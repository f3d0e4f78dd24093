// The token gate: axon_gate in the access phase, its shared-memory cache,
// $axon_wallet, logout, /api/me, limit_req on the sign-in endpoints.
// Real nginx with the module, real Redis, ethers wallets, and a plain node
// HTTP server as the upstream behind the gate.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Wallet } from 'ethers';
import { Stack, waitFor, freePort } from './lib/stack.mjs';

// the upstream: answers what it was sent
const upstream = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, wallet: req.headers['x-axon-wallet'] ?? null,
                             ...(req.headers.cookie !== undefined ? { cookie: req.headers.cookie } : {}) }));
});

const s = new Stack({
    nginx: async st => {
        st.gatePort = await freePort();
        const up = `http://127.0.0.1:${upstream.address().port}`;
        return `
log_format axon_gate '$axon_wallet "$request_method $uri" $status';
server {
    listen 127.0.0.1:${st.gatePort};
    access_log ${st.logs}/gate-access.log axon_gate;

    location /app/ {
        axon_gate on;
        proxy_set_header X-Axon-Wallet $axon_wallet;
        proxy_pass ${up};
    }
    location /browser/ {
        axon_gate on;
        axon_gate_login /login.html?from=gate;
        proxy_pass ${up};
    }
    location /nq/ {
        axon_gate on;
        axon_gate_query off;
        axon_compat original;
        proxy_set_header X-Axon-Wallet $axon_wallet;
        proxy_set_header Cookie $axon_upstream_cookie;
        proxy_pass ${up};
    }
    location /open/ {
        proxy_set_header X-Axon-Wallet $axon_wallet;
        proxy_pass ${up};
    }
}
`;
    },
});

before(async () => {
    await new Promise(ok => upstream.listen(0, '127.0.0.1', ok));
    await s.start();
});
after(async () => {
    upstream.close();
    await s.stop();
});

const gate = async (path, opts = {}) => {
    const res = await fetch(`http://127.0.0.1:${s.gatePort}${path}`, { redirect: 'manual', ...opts });
    const text = await res.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: res.status, headers: res.headers, body };
};
// node:http, for headers fetch() sets itself (Sec-Fetch-Mode) and for a
// source address of choice
function raw(port, path, opts = {}) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port, path, agent: false, ...opts }, res => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => {
                let body;
                try { body = JSON.parse(text); } catch { body = text; }
                ok({ status: res.statusCode, headers: res.headers, text, body });
            });
        });
        req.on('error', fail);
        req.end();
    });
}
const browser = (path, opts) => raw(s.gatePort, path, opts);
const bearer = token => ({ headers: { authorization: `Bearer ${token}` } });
const hashOf = token => createHash('sha256').update(token).digest('hex');

test('a token from a sign-in opens a gated location; the upstream gets $axon_wallet', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const r = await gate('/app/hello', bearer(token));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { url: '/app/hello', wallet: w.address });
    await waitFor(() => s.log('gate-access.log').includes(`${w.address} "GET /app/hello" 200`),
                  '$axon_wallet in the access log');
});

test('the token via Bearer, the axon_token cookie, or the token query argument', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    for (const [how, path, opts] of [
        ['bearer', '/app/a', bearer(token)],
        ['bearer, lower-case scheme', '/app/a', { headers: { authorization: `bearer ${token}` } }],
        ['cookie', '/app/b', { headers: { cookie: `theme=dark; axon_token=${token}; x=1` } }],
        ['query', `/app/c?token=${token}`, {}],
    ]) {
        const r = await gate(path, opts);
        assert.equal(r.status, 200, how);
        assert.equal(r.body.wallet, w.address, how);
    }
});

test('axon_gate_query off: a token the gate would take from the query is refused, whatever else the request carries', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    // none of these carries the token elsewhere: a blank Bearer, the compat
    // carriers where nothing reads them as a token (empty), a tab after Bearer
    for (const [how, path, headers] of [
        ['token=', `/nq/a?token=${token}`, {}],
        ['auth_token= (compat)', `/nq/a?auth_token=${token}`, {}],
        ['token= and a Bearer with a tab', `/nq/a?token=${token}`, { authorization: `Bearer\tx` }],
        ['token= and an empty X-AXGT-Auth-Token', `/nq/a?token=${token}`, { 'x-axgt-auth-token': '' }],
        ['token= and empty token cookies', `/nq/a?token=${token}`, { cookie: 'axon_token=; axgt_auth_token=' }],
    ]) {
        const r = await browser(path, { headers });
        assert.equal(r.status, 401, how);
        assert.equal(r.body.error.code, 'no_token', how);
        assert.match(r.body.error.message, /never in the query/, how);
    }
    // the token in a header or a cookie: the query goes on as it is
    for (const [how, headers] of [
        ['Bearer', { authorization: `Bearer ${token}` }],
        ['the cookie', { cookie: `axon_token=${token}` }],
        ['the compat cookie', { cookie: `axgt_auth_token=${token}` }],
        ['X-AXGT-Auth-Token', { 'x-axgt-auth-token': token }],
    ]) {
        const r = await browser('/nq/b?token=jupyters-own', { headers });
        assert.equal(r.status, 200, how);
        assert.equal(r.body.wallet, w.address, how);
        assert.equal(r.body.url, '/nq/b?token=jupyters-own', how);
    }
    // where it is on (the default), the query carries it
    assert.equal((await gate(`/app/c?token=${token}`)).status, 200);
});

test('$axon_upstream_cookie: every cookie but the gate\'s tokens, from every Cookie header', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const other = (await s.signIn(Wallet.createRandom())).token;
    for (const [how, cookies, want] of [
        ['the token between two others', [`_xsrf=x1; axon_token=${token}; theme=dark`], '_xsrf=x1; theme=dark'],
        ['the token twice', [`axon_token=${token}; axon_token=${other}; a=1`], 'a=1'],
        ['the compat token too', [`axgt_auth_token=${other};axon_token=${token};  b=2 `], 'b=2'],
        ['a name that only begins like it', [`axon_token=${token}; axon_token2=keep; xaxon_token=keep`], 'axon_token2=keep; xaxon_token=keep'],
        ['nothing but the token', [`axon_token=${token}`], undefined],
    ]) {
        const r = await browser('/nq/c', { headers: { cookie: cookies.length === 1 ? cookies[0] : cookies } });
        assert.equal(r.status, 200, how);
        assert.equal(r.body.wallet, w.address, how);
        assert.equal(r.body.cookie, want, how);
        for (const t of [token, other]) assert.ok(!JSON.stringify(r.body).includes(t), how);
    }
    // two Cookie headers (node's client would join them: a socket of our own)
    const answer = await new Promise((ok, fail) => {
        const c = connect(s.gatePort, '127.0.0.1', () => c.write(
            `GET /nq/d HTTP/1.0\r\nHost: 127.0.0.1\r\n` +
            `Cookie: axon_token=${token}; c=3\r\nCookie: axon_token=${other}; d=4\r\n\r\n`));
        let text = '';
        c.on('data', d => { text += d; });
        c.on('end', () => ok(text));
        c.on('error', fail);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /, answer);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(body.wallet, w.address);
    assert.equal(body.cookie, 'c=3; d=4');
});

test('conf/axon.conf\'s Jupyter location: no gate token reaches the container, by the query or a cookie', async () => {
    // the wallet's running session, as the worker publishes it, is this
    // test's upstream (it answers what it was sent)
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const other = (await s.signIn(Wallet.createRandom())).token;
    const id = String(800000 + Math.floor(Math.random() * 99999));
    s.redis('HSET', `axon:session:${id}`, 'state', 'running', 'wallet', w.address.toLowerCase(),
            'upstream', `127.0.0.1:${upstream.address().port}`);
    s.redis('HSET', `axon:wallet:${w.address.toLowerCase()}`, 'session', id);
    const jup = (path, headers) => raw(s.port, path, { headers });
    try {
        // a token only in the query, beside carriers the gate does not read
        // there (they made a map in the config believe it came elsewhere)
        for (const [how, headers] of [
            ['the query alone', {}],
            ['X-AXGT-Auth-Token', { 'x-axgt-auth-token': 'x' }],
            ['the compat cookie', { cookie: 'axgt_auth_token=x' }],
            ['a tab after Bearer', { authorization: 'Bearer\tx' }],
        ]) {
            const r = await jup(`/desktop/jupyter/tree?token=${token}`, headers);
            assert.equal(r.status, 401, how);
            assert.equal(r.body.error.code, 'no_token', how);
            assert.ok(!r.text.includes(token), how);
        }
        // the gate's cookie with Jupyter's own token in the query: through,
        // without the gate's cookies, however many
        const r = await jup('/desktop/jupyter/tree?token=vnc-password',
                            { cookie: `axon_token=${token}; _xsrf=x; axon_token=${other}; axgt_auth_token=${other}` });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.url, '/desktop/jupyter/tree?token=vnc-password');
        assert.equal(r.body.cookie, '_xsrf=x');
    } finally {
        s.redis('DEL', `axon:session:${id}`);
        s.redis('HDEL', `axon:wallet:${w.address.toLowerCase()}`, 'session');
    }
});

test('no token, a forged one, a malformed one -> 401 JSON, nothing reaches the upstream', async () => {
    const cases = [
        ['none', {}, 'no_token'],
        ['forged', bearer(randomBytes(32).toString('base64url')), 'unknown_token'],
        ['too short', bearer('abc'), 'unknown_token'],
        ['basic auth is not a token', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }, 'no_token'],
        ['empty cookie', { headers: { cookie: 'axon_token=' } }, 'no_token'],
    ];
    for (const [what, opts, code] of cases) {
        const r = await gate('/app/secret', opts);
        assert.equal(r.status, 401, what);
        assert.equal(r.body.error.code, code, what);
        assert.match(r.headers.get('www-authenticate'), /^Bearer realm="axon"/, what);
        assert.equal(r.headers.get('content-type'), 'application/json', what);
    }
    assert.doesNotMatch(s.log('gate-access.log'), /"GET \/app\/secret" 200/);
});

test('an expired token is refused even when Redis still holds it', async () => {
    const w = Wallet.createRandom();
    const token = randomBytes(32).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) - 5;
    s.redis('SET', `axon:token:${hashOf(token)}`,
            JSON.stringify({ wallet: w.address.toLowerCase(), exp }), 'PX', '60000');
    const r = await gate('/app/x', bearer(token));
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'expired_token');

    // the same, a minute from its end, is let in: the check is the expiry
    const t2 = randomBytes(32).toString('base64url');
    s.redis('SET', `axon:token:${hashOf(t2)}`,
            JSON.stringify({ wallet: w.address.toLowerCase(), exp: exp + 65 }), 'PX', '60000');
    assert.equal((await gate('/app/x', bearer(t2))).status, 200);
});

test('logout revokes at once: the token stops working here, Redis forgets it, the cookie is cleared', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    assert.equal((await gate('/app/x', bearer(token))).status, 200, 'cached now');

    const out = await s.json('/api/auth/logout', { method: 'POST', ...bearer(token) });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.deepEqual(out.body, { revoked: true, wallet: w.address });
    assert.match(out.headers.get('set-cookie'), /^axon_token=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
    assert.equal(s.redis('EXISTS', `axon:token:${hashOf(token)}`), '(integer) 0');

    const after = await gate('/app/x', bearer(token));
    assert.equal(after.status, 401, 'revoked despite the cache');
    assert.equal(after.body.error.code, 'unknown_token');
    assert.equal((await s.json('/api/me', bearer(token))).status, 401);

    const again = await s.json('/api/auth/logout', { method: 'POST', ...bearer(token) });
    assert.equal(again.status, 401, 'a revoked token cannot log out twice');

    // the worker takes the auth.logout job: revoked in Postgres too
    await waitFor(() => s.psql(`SELECT revoked_at IS NOT NULL FROM auth_tokens
                                 WHERE token_hash = '\\x${hashOf(token)}'`).out === 't',
                  'revoked_at in Postgres');
});

test('a token deleted in Redis behind the gate\'s back stops working within the cache bound', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    assert.equal((await gate('/app/x', bearer(token))).status, 200);
    s.redis('DEL', `axon:token:${hashOf(token)}`);
    // still cached: the gate did not ask Redis for this request
    assert.equal((await gate('/app/x', bearer(token))).status, 200, 'served from the cache');
    // conf/axon.conf: valid=10s
    await waitFor(async () => (await gate('/app/x', bearer(token))).status === 401,
                  'revocation within valid=', 20000);
});

test('browser navigations go to axon_gate_login; other requests get 401 JSON', async () => {
    const nav = await browser('/browser/page?x=1', { headers: { 'sec-fetch-mode': 'navigate' } });
    assert.equal(nav.status, 302);
    const to = new URL(nav.headers.location, `http://127.0.0.1:${s.gatePort}`);
    assert.equal(to.pathname, '/login.html');
    assert.equal(to.searchParams.get('from'), 'gate');
    assert.equal(to.searchParams.get('next'), '/browser/page?x=1');

    const old = await browser('/browser/page', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(old.status, 302, 'a browser without Fetch metadata');

    const xhr = await browser('/browser/page', { headers: { 'sec-fetch-mode': 'cors', accept: 'text/html' } });
    assert.equal(xhr.status, 401, 'Fetch metadata says it is no navigation');
    assert.equal(xhr.body.error.code, 'no_token');

    const post = await browser('/browser/page', { method: 'POST', headers: { 'sec-fetch-mode': 'navigate' } });
    assert.equal(post.status, 401, 'only GET and HEAD are redirected');

    const app = await browser('/app/page', { headers: { 'sec-fetch-mode': 'navigate' } });
    assert.equal(app.status, 401, 'no axon_gate_login: 401');

    const { token } = await s.signIn(Wallet.createRandom());
    const inside = await browser('/browser/page', { headers: { 'sec-fetch-mode': 'navigate', cookie: `axon_token=${token}` } });
    assert.equal(inside.status, 200);
});

test('an ungated location sees no wallet, token or not', async () => {
    const { token } = await s.signIn(Wallet.createRandom());
    const r = await gate('/open/x', bearer(token));
    assert.equal(r.status, 200);
    assert.equal(r.body.wallet, null);
});

test('GET /api/me: wallet, balance from Redis (0 until the ledger has one), no session', async () => {
    const w = Wallet.createRandom();
    const { token, expires_at } = await s.signIn(w);
    const me = await s.json('/api/me', bearer(token));
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.deepEqual(me.body, { wallet: w.address, balance_minutes: 0, session: null, token_expires_at: expires_at });

    s.redis('HSET', `axon:wallet:${w.address.toLowerCase()}`, 'balance', '120', 'ledger_id', '7');
    assert.equal((await s.json('/api/me', bearer(token))).body.balance_minutes, 120);

    const anon = await s.json('/api/me');
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 'no_token');

    const post = await s.json('/api/me', { method: 'POST', ...bearer(token) });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('Redis down: a cached token still opens the gate, an uncached one gets 503 at once; back: no reload needed', async () => {
    const cached = (await s.signIn(Wallet.createRandom())).token;
    const fresh = (await s.signIn(Wallet.createRandom())).token;
    assert.equal((await gate('/app/x', bearer(cached))).status, 200);

    await s.stack('stop', 'redis');
    try {
        const r = await gate('/app/x', bearer(fresh));
        assert.equal(r.status, 503);
        assert.equal(r.body.error.code, 'redis_unavailable');
        assert.equal((await gate('/app/x', bearer(cached))).status, 200, 'from the cache');
    } finally {
        await s.startRedis();
    }
    await waitFor(async () => (await gate('/app/x', bearer(fresh))).status === 200, 'gate after redis is back');
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    assert.equal((await gate('/app/x', bearer(token))).body.wallet, w.address);
});

test('nginx -s reload keeps issued tokens valid', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const before = s.pid('nginx');
    const oldWorkers = s.log('nginx-error.log').match(/start worker process \d+/g).length;
    await s.stack('nginx', '-p', `${s.dir}/nginx`, '-c', 'conf/nginx.conf', '-s', 'reload');
    await waitFor(() => s.log('nginx-error.log').match(/start worker process \d+/g).length > oldWorkers,
                  'new worker processes');
    assert.equal(s.pid('nginx'), before, 'same master');
    const r = await gate('/app/x', bearer(token));
    assert.equal(r.status, 200);
    assert.equal(r.body.wallet, w.address);
    assert.equal((await s.json('/api/me', bearer(token))).body.wallet, w.address);
});

// from another address than 127.0.0.1, which the local stack exempts
// (conf/axon.conf does not: t/origin.test.mjs)
const fromOtherAddress = path => raw(s.port, path, { localAddress: '127.0.0.2' });

test('limit_req from conf/axon.conf guards the sign-in endpoints with a JSON 429', async () => {
    const path = `/api/auth/challenge?address=${Wallet.createRandom().address}`;
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await fromOtherAddress(path));
    const limited = answers.filter(a => a.status === 429);
    assert.ok(answers.filter(a => a.status === 200).length >= 20, 'the burst goes through');
    assert.ok(limited.length > 0, 'then the limit');
    assert.equal(limited[0].headers['content-type'], 'application/json');
    assert.equal(limited[0].body.error.code, 'rate_limited');
    assert.equal(limited[0].headers['retry-after'], '1');
    assert.equal(limited[0].headers['cache-control'], 'no-store');

    // the rest of the API is not limited
    for (let i = 0; i < 40; i++) assert.equal((await fromOtherAddress('/api/health')).status, 200);
});
