// Two gates on one Redis behave as one: nginx with the module twice, each
// its own port and processes, behind one name (the second signs in with
// the first one's domain), one Redis, one Postgres, one worker.  A token
// made on one works on the other; a session claimed on one is the one the
// other shows and can release; a logout on one is refused there at once and
// on the other within its token cache's bound (axon_token_cache valid=,
// 10 s in conf/axon.conf): the cache of checked tokens is per gate, in its
// shared memory, and a revocation reaches it when the entry is checked
// against Redis again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

let a, b;

before(async () => {
    a = await new Stack({ sessions: true }).start();
    b = await a.gate();
});

after(async () => {
    await b?.stop();
    await a?.stop();
});

const auth = token => ({ authorization: `Bearer ${token}` });
const api = (g, path, token, method = 'GET', body) => g.json(path, {
    method,
    headers: { ...(token ? auth(token) : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
});

let refs = 0;
async function grant(addr, minutes) {
    a.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
            'minutes', String(minutes), 'ref', `gates-${process.pid}-${++refs}`);
    await waitFor(() => a.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'the grant');
}

test('the two gates are two nginx, on two ports', async () => {
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.pid('nginx'), b.pid('nginx'));
    for (const g of [a, b]) assert.equal((await g.fetch('/api/health')).status, 200);
});

test('a token made on either gate works on both', async () => {
    for (const [made, used] of [[a, b], [b, a]]) {
        const w = Wallet.createRandom();
        const { token } = await made.signIn(w);
        const me = await api(used, '/api/me', token);
        assert.equal(me.status, 200, JSON.stringify(me.body));
        assert.equal(me.body.wallet.toLowerCase(), w.address.toLowerCase());
    }
});

test('sign-in across the gates: a challenge of one verified on the other, its nonce used once', async () => {
    for (const [issued, used] of [[a, b], [b, a]]) {
        const w = Wallet.createRandom();
        const c = await issued.json(`/api/auth/challenge?address=${w.address}`);
        assert.equal(c.status, 200);
        const body = JSON.stringify({ message: c.body.message, signature: await w.signMessage(c.body.message) });
        const verify = g => g.json('/api/auth/verify-wallet',
                                   { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const v = await verify(used);
        assert.equal(v.status, 200, JSON.stringify(v.body));
        for (const g of [a, b]) {
            const again = await verify(g);
            assert.equal(again.status, 401);
            assert.equal(again.body.error.code, 'unknown_nonce');
        }
    }
});

test('one queue and one session: claimed on one gate, seen and released on the other', async () => {
    const w = Wallet.createRandom();
    const { token } = await a.signIn(w);
    await grant(w.address.toLowerCase(), 60);

    const c = await api(a, '/api/session', token, 'POST', { profile: 'small' });
    assert.equal(c.status, 202, JSON.stringify(c.body));
    const seen = await waitFor(async () => {
        const st = (await api(b, '/api/session', token)).body;
        return st.status === 'running' ? st : null;
    }, 'the session running, seen through the second gate', 90000);
    assert.equal(seen.session_id, c.body.session_id);

    // a second claim through the other gate is the same wallet's: refused
    const again = await api(b, '/api/session', token, 'POST', { profile: 'small' });
    assert.equal(again.status, 409, JSON.stringify(again.body));

    const r = await api(b, '/api/release', token, 'POST');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.session_id, c.body.session_id);
    await waitFor(async () => (await api(a, '/api/session', token)).body.status === 'ended',
                  'the session ended, seen through the first gate', 90000);
});

test('a logout on one gate: refused there at once, on the other within its cache bound', async () => {
    const w = Wallet.createRandom();
    const { token } = await a.signIn(w);
    // both gates have checked the token: each holds it in its own cache
    for (const g of [a, b]) assert.equal((await api(g, '/api/me', token)).status, 200);

    const out = await api(b, '/api/auth/logout', token, 'POST');
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal((await api(b, '/api/me', token)).status, 401);
    // valid=10s: the wait's limit is the bound and a margin, not a timing
    await waitFor(async () => (await api(a, '/api/me', token)).status === 401,
                  'the first gate refusing the revoked token', 15000);
});
