// GET /api/config: what a page or an agent reads before it pays, with no
// token.  Real nginx, worker, Redis, Postgres and the local chain: every
// figure is checked against what chain/deploy.mjs configured, and each
// profile's price per hour against GET /api/quote for 60 minutes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/stack.mjs';

const s = new Stack({
    chain: true,
    sessions: true,
    workerConf: [
        'gpu_hosts local=0,1,2',
        'profiles "small:1:1 pair:2:3"',
        'deposit_confirmations 4',
        'launcher_timeout 20s',
    ].join('\n'),
});

before(() => s.start());
after(() => s.stop());

const config = () => waitFor(async () => {
    const r = await s.json('/api/config');
    // the deposit prices are published once the worker has read the chain
    return r.status === 200 && r.body.tokens.length ? r : null;
}, 'GET /api/config with the deposit tokens');

test('the chain, the tokens, the revenue wallet, tiers and confirmations, without a token', async () => {
    const r = await config();
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const c = r.body;
    assert.deepEqual(c.chain, { id: s.chain.chain_id, name: 'axon local chain',
                                rpc_url: s.chain.rpc_url, explorer: null });
    assert.equal(c.revenue_wallet.toLowerCase(), s.chain.revenue_wallet.toLowerCase());
    assert.equal(c.confirmations, 4);
    const bySym = Object.fromEntries(c.tokens.map(t => [t.symbol, t]));
    assert.deepEqual(Object.keys(bySym).sort(), ['AXGT', 'ETH', 'USDC']);
    assert.equal(bySym.USDC.address.toLowerCase(), s.chain.tokens.USDC.address.toLowerCase());
    assert.deepEqual([bySym.USDC.decimals, bySym.USDC.minutes_per_token], [6, 60]);
    assert.deepEqual([bySym.ETH.address, bySym.ETH.decimals, bySym.ETH.minutes_per_token], ['ETH', 18, 200000]);
    assert.ok(c.tiers.length > 0 && c.tiers.every(t => t.min > 0 && t.discount_pct > 0));
    assert.equal(c.deposits, true);
    assert.equal(c.x402, true, 'the local chain turns x402 on');
    assert.equal(c.ssh, true);
    assert.equal(typeof c.billing_minute_s, 'number');
    assert.equal(typeof c.grace_minutes, 'number');
});

test('profiles: price per hour in credit minutes and in each token, free GPUs, the queue', async () => {
    const c = (await config()).body;
    assert.deepEqual(c.profiles.map(p => p.name), ['small', 'pair']);
    const pair = c.profiles.find(p => p.name === 'pair');
    assert.equal(pair.per_hour, 60 * 2 * 3);
    const usdc = pair.prices_per_hour.find(x => x.symbol === 'USDC');
    // 360 credit minutes at 60 a USDC: 6 USDC
    assert.equal(usdc.amount, '6000000');
    assert.deepEqual([c.pool.gpus, c.pool.free, c.pool.queued], [3, 3, 0]);
    // the same arithmetic as a quote for an hour, at tier 0 (a fresh wallet)
    const { Wallet } = await import('ethers');
    const { token } = await s.signIn(Wallet.createRandom());
    const q = await s.json('/api/quote?profile=pair&minutes=60',
                           { headers: { authorization: `Bearer ${token}` } });
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.equal(q.body.discount_pct, 0);
    assert.deepEqual(q.body.prices.map(x => [x.symbol, x.amount]),
                     pair.prices_per_hour.map(x => [x.symbol, x.amount]));
});

test('another method gets 405 with Allow', async () => {
    const r = await s.json('/api/config', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    assert.equal(r.body.error.code, 'method_not_allowed');
});
