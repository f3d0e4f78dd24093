// x402 without a flood: a burst of well-formed authorizations
// from fresh, unfunded keys.  Each one the module verifies is recorded and
// queued on axon:x402:jobs, which only the worker's x402 process consumes;
// a session claim made meanwhile is scheduled by the main process without
// waiting for any of them (the x402 process is even frozen, SIGSTOP, while
// the claim runs: the claim cannot depend on it).  Then each is refused on
// the chain's word before any gas is spent: no credit, no token, no
// transaction, the pending sets empty.  Real nginx, worker, Postgres,
// Redis, ganache, podman; the x402 SDK signs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Wallet } from 'ethers';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { x402Client } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http';
import { Stack, freePort, waitFor } from './lib/stack.mjs';

const N = 1000;                         // the burst: fresh keys, no USDC
const PARALLEL = 30;
const NETWORK = 'eip155:1337';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl agent@test';
const BODY = { profile: 'small', minutes: 30, ssh_public_key: KEY };

let burstPort;
const s = new Stack({
    chain: true,
    sessions: true,
    workerConf: ['gpu_hosts local=0,1,2,3', 'profiles "small:1:1 large:2:1"',
        'billing_minute 2s', 'billing_tick 200ms', 'launcher_timeout 20s',
        'launcher_ready_timeout 20s', 'reconcile_interval 2s', 'session_grace 4s'].join('\n'),
    // the burst's server: no limit_req (conf/axon.conf's /api/x402/ has
    // one per address), room for the whole burst in the pending bound
    // (1000 by default), and paid requests answered 202 after 1 s
    nginx: async () => {
        burstPort = await freePort();
        return `server { listen 127.0.0.1:${burstPort}; axon_x402_wait 1s; axon_x402_pending 2000 4;\n`
            + '    location /api/ { axon_api; } }\n';
    },
});

before(async () => {
    await s.start();
    await waitFor(() => s.redis('GET', 'axon:profiles') !== '(nil)', 'the worker published its profiles');
});

after(async () => {
    if (x402Pid) {
        try { process.kill(x402Pid, 'SIGCONT'); } catch { /* gone */ }
    }
    await s?.stop();
});

let x402Pid;

const int = t => Number(t.replace(/^\(integer\) /, ''));
const count = pattern => Number(s.redisPipe([`EVAL "return #redis.call('KEYS', ARGV[1])" 0 ${pattern}`])[0]);
const burst = path => `http://127.0.0.1:${burstPort}${path}`;
const post = (body, headers = {}) => fetch(burst('/api/x402/session'), {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
});

// the worker's x402 process: the one child of the worker that runs --x402-process
function x402Process() {
    const parent = s.pid('worker');
    const children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/)
        .filter(Boolean).map(Number);
    return children.find(pid => {
        try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--x402-process');
        } catch { return false; }
    });
}

async function run(items, parallel, fn) {
    const out = [];
    let next = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i]);
        }
    }));
    return out;
}

test(`${N} unfunded authorizations from fresh keys: a claim meanwhile is scheduled; then each is refused, no credit, no token, no gas`, async () => {
    x402Pid = await waitFor(() => x402Process(), 'the worker\'s x402 process');
    const gasNonce = await s.rpc('eth_getTransactionCount', [s.chain.x402_gas_wallet, 'latest']);

    // a user with credit, signed in (its token is the one token in Redis);
    // credit for hours of this stack's 2 s minutes: the session must outlast
    // the burst and its refusals however slow the machine, to be released
    const w = Wallet.createRandom();
    const addr = w.address.toLowerCase();
    const { token } = await s.signIn(w);
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr, 'minutes', '10000', 'ref', 'flood-user');
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '10000', 'the grant');
    const tokens = count('axon:token:*');

    // N payments, each by a fresh key for the one offer, signed by the SDK
    const res = await post(BODY);
    assert.equal(res.status, 402);
    const pr = decodePaymentRequiredHeader(res.headers.get('PAYMENT-REQUIRED'));
    const headers = [];
    for (let i = 0; i < N; i++) {
        const c = new x402Client();
        registerExactEvmScheme(c, { signer: privateKeyToAccount(generatePrivateKey()) });
        c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: s.chain.tokens.USDC.address,
            maxAmountPerPayment: '100000000' }] });
        headers.push(encodePaymentSignatureHeader(await c.createPaymentPayload(pr)));
    }

    // the x402 process frozen: whatever the session worker does now, it does without it
    process.kill(x402Pid, 'SIGSTOP');
    let statuses, claimed;
    try {
        const flood = run(headers, PARALLEL, async h => {
            const r = await post(BODY, { 'PAYMENT-SIGNATURE': h });
            const body = await r.json();
            assert.equal(body.auth_token === undefined || r.status === 202, true);
            return r.status;
        });
        // the burst under way: the claim
        await waitFor(() => int(s.redis('XLEN', 'axon:x402:jobs')) >= PARALLEL, 'the burst queued');
        const c = await s.json('/api/session', { method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ profile: 'small' }) });
        assert.equal(c.status, 202, JSON.stringify(c.body));
        claimed = await waitFor(async () => {
            const st = (await s.json('/api/session', { headers: { authorization: `Bearer ${token}` } })).body;
            return ['starting', 'running'].includes(st.status) && st;
        }, 'the claim scheduled while the x402 work waits', 60000);
        statuses = await flood;
        const seen = {};
        for (const st of statuses) seen[st] = (seen[st] || 0) + 1;
        assert.deepEqual(seen, { 202: N });
        // none of the x402 work has run: all of it still waits
        assert.equal(int(s.redis('XLEN', 'axon:x402:jobs')), N);
        assert.equal(s.sql(`SELECT count(*) FROM x402_payments`), '0');
        // every payment verified by the module, recorded, pending; no token
        assert.equal(count('axon:x402:pay:*'), N);
        assert.equal(int(s.redis('ZCARD', 'axon:x402:pending')), N);
        assert.equal(count('axon:token:*'), tokens);
    } finally {
        process.kill(x402Pid, 'SIGCONT');
    }

    // the x402 process works through them: each refused by the chain's balance
    await waitFor(() => s.sql(`SELECT count(*) FROM x402_payments WHERE state = 'failed'`) === String(N)
        && int(s.redis('XLEN', 'axon:x402:jobs')) === 0, `${N} payments refused`, 180000);
    assert.equal(s.sql(`SELECT string_agg(DISTINCT error_reason, ',') FROM x402_payments`),
                 'invalid_exact_evm_insufficient_balance');
    assert.equal(s.sql(`SELECT count(*) FROM credit_ledger WHERE idempotency_key LIKE 'x402:%'`), '0');
    assert.equal(s.sql(`SELECT count(*) FROM auth_tokens a JOIN x402_payments p ON p.payer = a.wallet`), '0');
    assert.equal(count('axon:token:*'), tokens);
    assert.equal(int(s.redis('ZCARD', 'axon:x402:pending')), 0);
    assert.equal(await s.rpc('eth_getTransactionCount', [s.chain.x402_gas_wallet, 'latest']), gasNonce);
    // the records say so, and go soon
    const failed = s.redisPipe([`EVAL "local n = 0 for _, k in ipairs(redis.call('KEYS', 'axon:x402:pay:*')) do if redis.call('HGET', k, 'state') == 'failed' and redis.call('TTL', k) <= 600 then n = n + 1 end end return n" 0`])[0];
    assert.equal(Number(failed), N);

    // the user's session: released, as usual
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
});

test('the x402 process killed: the worker starts another, which takes the x402 jobs', async () => {
    const old = x402Process();
    assert.ok(old);
    process.kill(old, 'SIGKILL');
    x402Pid = await waitFor(() => { const p = x402Process(); return p && p !== old && p; },
        'a new x402 process', 30000);
    assert.match(s.log('worker.log'), new RegExp(`the x402 process ${old} was killed by signal 9`));
    // it consumes: a payment that cannot settle is refused by it
    const res = await post(BODY);
    const pr = decodePaymentRequiredHeader(res.headers.get('PAYMENT-REQUIRED'));
    const c = new x402Client();
    registerExactEvmScheme(c, { signer: privateKeyToAccount(generatePrivateKey()) });
    c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: s.chain.tokens.USDC.address,
        maxAmountPerPayment: '100000000' }] });
    const p = await c.createPaymentPayload(pr);
    await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) });
    await waitFor(() => s.sql(`SELECT state FROM x402_payments WHERE nonce = '${p.payload.authorization.nonce}'`) === 'failed',
        'the payment refused by the new x402 process');
    assert.match(s.log('worker.log'), new RegExp(`${x402Pid}#worker: job \\S+ x402.pay: done`));
});

test('a payment that waited past its validBefore (no x402 process ran) is refused before any chain call', async () => {
    const res = await post(BODY);
    const pr = decodePaymentRequiredHeader(res.headers.get('PAYMENT-REQUIRED'));
    const account = privateKeyToAccount(generatePrivateKey());
    const c = new x402Client();
    registerExactEvmScheme(c, { signer: account });
    c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: s.chain.tokens.USDC.address,
        maxAmountPerPayment: '100000000' }] });
    const p = await c.createPaymentPayload(pr);
    // valid for 10 s only, signed again
    const a = p.payload.authorization;
    a.validBefore = String(Math.floor(Date.now() / 1000) + 10);
    p.payload.signature = await account.signTypedData({
        domain: { name: 'USD Coin', version: '2', chainId: 1337, verifyingContract: s.chain.tokens.USDC.address },
        types: { TransferWithAuthorization: [
            { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
            { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
            { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' }] },
        primaryType: 'TransferWithAuthorization',
        message: { from: a.from, to: a.to, value: BigInt(a.value), validAfter: BigInt(a.validAfter),
            validBefore: BigInt(a.validBefore), nonce: a.nonce },
    });
    process.kill(x402Pid, 'SIGSTOP');
    try {
        const r = await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) });
        assert.equal(r.status, 202, await r.text());
        await waitFor(() => Date.now() / 1000 > Number(a.validBefore) + 1, 'the authorization expired', 30000);
    } finally {
        process.kill(x402Pid, 'SIGCONT');
    }
    await waitFor(() => s.sql(`SELECT error_reason FROM x402_payments WHERE nonce = '${a.nonce}'`)
        === 'invalid_exact_evm_payload_authorization_valid_before', 'refused as expired');
});
