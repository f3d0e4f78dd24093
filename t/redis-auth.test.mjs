// A Redis that requires a password: the worker and the module both
// authenticate (axon_redis_password); a refused AUTH is 503, logged once per
// outage, retried with backoff, and recovers with no reload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

const password = 'axon test "pass" ' + Math.random().toString(36).slice(2);
const s = new Stack({ redisPassword: password });
before(() => s.start());
after(() => s.stop());

test('with the password, the gate and the worker are up and sign-in works', async () => {
    const h = await s.json('/api/health');
    assert.equal(h.status, 200, JSON.stringify(h.body));
    assert.match(s.log('nginx-error.log'), /axon: redis: connected to 127\.0\.0\.1:\d+ \(authenticated\)/);
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const me = await s.json('/api/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.body.wallet, w.address);
    assert.doesNotMatch(s.log('nginx-error.log'), new RegExp(password.split(' ').pop()), 'never logged');
});

test('a refused AUTH: 503 at once, one log line, no reconnect storm; back with no reload', async () => {
    const other = password + '-changed';
    s.redis('CONFIG', 'SET', 'requirepass', other);
    s.redisAuth = other;
    s.redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');

    await waitFor(async () => (await s.json('/api/health')).status === 503, 'health 503');
    const r = await s.json(`/api/auth/challenge?address=${Wallet.createRandom().address}`);
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'redis_unavailable');

    await new Promise(ok => setTimeout(ok, 2500));
    const refusals = s.log('nginx-error.log').match(/AUTH refused: WRONGPASS/g) ?? [];
    // one line per outage and nginx worker process (2), not one per retry
    assert.ok(refusals.length >= 1 && refusals.length <= 2, `${refusals.length} refusal lines`);
    const connects = Number(s.redis('--raw', 'INFO', 'stats').match(/total_connections_received:(\d+)/)[1]);
    await new Promise(ok => setTimeout(ok, 2000));
    const later = Number(s.redis('--raw', 'INFO', 'stats').match(/total_connections_received:(\d+)/)[1]);
    // backoff caps at 1s: 2 nginx workers + the worker's own retries, not hundreds
    assert.ok(later - connects <= 12, `${later - connects} connections in 2 s`);

    s.redis('CONFIG', 'SET', 'requirepass', password);
    s.redisAuth = password;
    await waitFor(async () => (await s.json('/api/health')).status === 200, 'health back');
    await s.signIn(Wallet.createRandom());
});
