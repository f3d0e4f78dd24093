// x402 version 1: the unmodified x402-fetch 1.x client (npm), which names
// its network, pays for an SSH GPU session on the local chain run under
// Base Sepolia's chain id (AXON_CHAIN_ID=84532, so "base-sepolia"): the
// gate takes X-PAYMENT on version 2's path (one check, one record, one
// settlement by the worker, itself or through a local facilitator that
// sees version 2's form), answers X-PAYMENT-RESPONSE, and ssh runs in
// the session.  One authorization pays once whichever version carries it:
// replayed as version 2 (and a version 2 one replayed as version 1) it is
// refused, and the ledger has one credit.  One 402 serves both versions;
// GET /.well-known/x402 is version 1's discovery document too.
// Real nginx, worker, Postgres, Redis, ganache, podman, ssh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWalletClient, http } from 'viem';
import { baseSepolia } from 'viem/chains';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { wrapFetchWithPayment as wrapV1, decodeXPaymentResponse } from 'x402-fetch';
import { PaymentRequirementsSchema } from 'x402/types';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { Stack, freePort, waitFor } from './lib/stack.mjs';
import { Facilitator } from './lib/facilitator.mjs';

const NETWORK = 'eip155:84532';
const PRICE = 16667n;                   // chain/deploy.mjs: atomic USDC per credit minute
const dir = mkdtempSync(join(tmpdir(), 'axon-x402v1-'));
// ganache's deployer (a well-known key): the local facilitator's gas wallet
const FACILITATOR_KEY = '0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d';

const s = new Stack({ chain: true, sessions: true, env: { AXON_CHAIN_ID: '84532' },
    workerConf: ['gpu_hosts local=0,1', 'profiles "small:1:1"', 'billing_minute 2s',
        'session_grace 4s', 'billing_tick 200ms', 'launcher_timeout 20s',
        'launcher_ready_timeout 20s', 'reconcile_interval 2s', 'port_pool_size 4',
        'job_retry_min 100ms', 'job_retry_max 1s', 'x402_receipt_wait 2s'].join('\n') });
let usdc, f;

before(async () => {
    await s.start();
    usdc = s.chain.tokens.USDC;
});

after(async () => {
    await f?.stop();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
});

function keygen(name) {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
    return { name, pub: readFileSync(join(dir, `${name}.pub`), 'utf8').trim() };
}

function ssh(key, host, port, user, cmd) {
    const r = spawnSync('ssh', ['-i', join(dir, key.name), '-p', String(port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes',
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${user}@${host}`, cmd], { timeout: 20000 });
    return { code: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

async function balanceOf(addr) {
    const data = '0x70a08231' + addr.slice(2).toLowerCase().padStart(64, '0');
    return BigInt(await s.rpc('eth_call', [{ to: usdc.address, data }, 'latest']));
}

const b64 = v => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
const unb64 = h => JSON.parse(Buffer.from(h, 'base64').toString());
const lower = a => a.toLowerCase();
const payer = i => privateKeyToAccount(s.chain.demo_wallets[i].private_key);
const ledger = addr => s.sql(`SELECT coalesce(string_agg(delta_minutes::text || ':' || idempotency_key, ',' ORDER BY id), '')
                              FROM credit_ledger WHERE wallet = '${lower(addr)}' AND kind = 'deposit'`);
const live = addr => s.sql(`SELECT count(*) FROM sessions WHERE wallet = '${lower(addr)}' AND state <> 'ended'`);
const payKeys = () => Number(s.redisPipe([`EVAL "return #redis.call('KEYS', 'axon:x402:pay:*')" 0`])[0]);
const payRows = () => Number(s.sql('SELECT count(*) FROM x402_payments'));

// the version 1 client: a viem wallet on "base-sepolia" (its chain id names
// its network); sent[] records the X-PAYMENT headers it sent
function agentV1(account, sent) {
    const wallet = createWalletClient({ account, chain: baseSepolia, transport: http(s.chainUrl) });
    const spy = async (input, init) => {
        const h = init?.headers?.['X-PAYMENT'];
        if (h) sent.push(h);
        return fetch(input, init);
    };
    // the price is above the client's default cap (0.1 USDC): allow 10 USDC
    return wrapV1(spy, wallet, 10_000_000n);
}

function post(body, headers = {}) {
    return fetch(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function required(res) {
    assert.equal(res.status, 402);
    return { pr: unb64(res.headers.get('PAYMENT-REQUIRED')), body: await res.json() };
}

test('one 402 for both versions: PAYMENT-REQUIRED is version 2, the body version 1 (what x402-fetch 1.x parses); the discovery document', async () => {
    const { pr, body } = await required(await fetch(s.url('/.well-known/x402')));
    assert.equal(pr.x402Version, 2);
    assert.equal(pr.accepts[0].network, NETWORK);
    assert.equal(body.x402Version, 1);
    assert.equal(body.name, 'AxonOS GPU compute');
    assert.ok(body.endpoints.session.startsWith('POST /api/x402/session'));
    assert.ok(Array.isArray(body.session_lifecycle) && Array.isArray(body.notes));
    assert.equal(body.accepts.length, pr.accepts.length);
    body.accepts.forEach((a, i) => {
        PaymentRequirementsSchema.parse(a);             // the client's own schema
        const v2 = pr.accepts[i];
        assert.equal(a.network, 'base-sepolia');
        assert.equal(a.maxAmountRequired, v2.amount);
        assert.equal(a.payTo, v2.payTo);
        assert.equal(a.asset, v2.asset);
        assert.deepEqual(a.extra, v2.extra);
        assert.equal(a.resource, pr.resource.url);
    });
    // the offer asked for: one requirement, the same in both
    const one = await required(await post({ profile: 'small', minutes: 30, ssh_public_key: keygen('k-offer').pub }));
    assert.equal(one.body.accepts.length, 1);
    assert.equal(one.body.accepts[0].maxAmountRequired, String(30n * PRICE));
    assert.equal(one.body.error, 'payment_required');
    assert.equal(one.body.name, undefined);
    assert.equal(one.pr.accepts[0].amount, String(30n * PRICE));
});

test('the unmodified x402-fetch 1.x client pays, the worker settles, ssh runs; replayed as version 2 it is refused and credited once', async () => {
    const a = payer(0);
    const key = keygen('k-v1');
    const sent = [];
    const amount = 30n * PRICE;
    const before = await balanceOf(a.address);
    const body = { profile: 'small', minutes: 30, ssh_public_key: key.pub };

    const res = await agentV1(a, sent)(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const r = await res.json();
    assert.equal(res.status, 200, JSON.stringify(r));
    assert.equal(sent.length, 1);
    assert.equal(res.headers.get('PAYMENT-RESPONSE'), null);
    const settle = decodeXPaymentResponse(res.headers.get('X-PAYMENT-RESPONSE'));
    assert.equal(settle.success, true);
    assert.equal(settle.network, 'base-sepolia');
    assert.equal(lower(settle.payer), lower(a.address));
    assert.match(settle.transaction, /^0x[0-9a-f]{64}$/);

    const v1 = unb64(sent[0]);
    assert.equal(v1.x402Version, 1);
    assert.equal(v1.network, 'base-sepolia');
    const nonce = r.payment_id;
    assert.equal(nonce, v1.payload.authorization.nonce);
    assert.equal(await balanceOf(a.address), before - amount);
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)}`);

    // the SSH session it bought
    assert.equal(r.status, 'running');
    const out = ssh(key, r.ssh_host, r.ssh_port, r.ssh_user, 'echo v1-$((6*7))');
    assert.equal(out.code, 0, out.err);
    assert.equal(out.out, 'v1-42');

    // the same authorization as version 2 (PAYMENT-SIGNATURE with the offer): refused
    const { pr } = await required(await post(body));
    const v2 = { x402Version: 2, accepted: pr.accepts[0], payload: v1.payload };
    const replay = await post(body, { 'PAYMENT-SIGNATURE': b64(v2) });
    const rb = await replay.json();
    assert.equal(replay.status, 402, JSON.stringify(rb));
    assert.equal(rb.error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(unb64(replay.headers.get('PAYMENT-REQUIRED')).error, 'invalid_exact_evm_nonce_already_used');
    // and as version 1 again
    const again = await post(body, { 'X-PAYMENT': sent[0] });
    assert.equal(again.status, 402);
    assert.equal((await again.json()).error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)}`);
    assert.equal(s.sql(`SELECT count(*) FROM x402_payments WHERE nonce = '${nonce}'`), '1');
    assert.equal(await balanceOf(a.address), before - amount);

    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.auth_token}` } });
    assert.equal(rel.status, 202);
    await waitFor(() => live(a.address) === '0', 'the session ended');
});

test('a version 2 payment replayed as version 1: refused', async () => {
    // a payer without the money: recorded, then failed by the worker
    const poor = privateKeyToAccount(generatePrivateKey());
    const c = new x402Client();
    registerExactEvmScheme(c, { signer: poor });
    c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: usdc.address, maxAmountPerPayment: '100000000' }] });
    let sig;
    const pay = wrapFetchWithPayment(async (input, init) => {
        const req = new Request(input, init);
        sig ??= req.headers.get('PAYMENT-SIGNATURE') ?? undefined;
        return fetch(req);
    }, c);
    const body = { profile: 'small', minutes: 30, ssh_public_key: keygen('k-poor').pub };
    const res = await pay(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 402);
    assert.ok(sig);
    const v2 = unb64(sig);
    const rows = payRows();

    const v1 = { x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: v2.payload };
    const replay = await post(body, { 'X-PAYMENT': b64(v1) });
    assert.equal(replay.status, 402);
    assert.equal((await replay.json()).error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(payRows(), rows);
    assert.equal(ledger(poor.address), '');
});

test('a malformed or wrong X-PAYMENT: the clear error, nothing recorded', async () => {
    const body = { profile: 'small', minutes: 30, ssh_public_key: keygen('k-bad').pub };
    const keys = payKeys();
    const rows = payRows();

    const malformed = [
        ['not base64', 'not base64!!', 'X-PAYMENT is not base64'],
        ['not JSON', b64('hello, gate'), 'X-PAYMENT is not a JSON object'],
        ['no payload', b64({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' }),
            'a version 1 payment needs "payload": {"authorization", "signature"}'],
        ['no authorization', b64({ x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: {} }), null],
    ];
    for (const [what, header, message] of malformed) {
        const res = await post(body, { 'X-PAYMENT': header });
        const out = await res.json();
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(out)}`);
        assert.equal(out.error.code, 'invalid_payment_header', what);
        if (message) assert.equal(out.error.message, message, what);
    }

    // well formed, not acceptable: 402, version 1's body saying why
    const a = payer(1);
    const sent = [];
    const wallet = createWalletClient({ account: a, chain: baseSepolia, transport: http(s.chainUrl) });
    // a signed v1 payment from the client, never sent to the gate (a 402 of our own)
    const capture = wrapV1(async (input, init) => {
        if (init?.headers?.['X-PAYMENT']) { sent.push(init.headers['X-PAYMENT']); return new Response('{}'); }
        return fetch(input, init);
    }, wallet, 10_000_000n);
    await capture(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const good = unb64(sent[0]);
    const refused = [
        ['another network', { ...good, network: 'base' }, 'invalid_exact_evm_network_mismatch'],
        ['a CAIP-2 network', { ...good, network: NETWORK }, 'invalid_exact_evm_network_mismatch'],
        ['another scheme', { ...good, scheme: 'upto' }, 'invalid_exact_evm_scheme'],
        ['version 2 in X-PAYMENT', { ...good, x402Version: 2 }, 'invalid_x402_version'],
        ['less than the price', { ...good, payload: { ...good.payload, authorization:
            { ...good.payload.authorization, value: '1' } } },
            'invalid_exact_evm_payload_authorization_value_mismatch'],
    ];
    for (const [what, p, code] of refused) {
        const res = await post(body, { 'X-PAYMENT': b64(p) });
        const out = await res.json();
        assert.equal(res.status, 402, `${what}: ${JSON.stringify(out)}`);
        assert.equal(out.x402Version, 1, what);
        assert.equal(out.error, code, what);
        assert.equal(out.accepts[0].network, 'base-sepolia', what);
        assert.equal(unb64(res.headers.get('PAYMENT-REQUIRED')).error, code, what);
    }

    // both headers: one payment at a time
    const both = await post(body, { 'X-PAYMENT': sent[0], 'PAYMENT-SIGNATURE': b64({ x402Version: 2 }) });
    assert.equal(both.status, 400);
    assert.equal((await both.json()).error.code, 'invalid_payment_header');

    assert.equal(payKeys(), keys);
    assert.equal(payRows(), rows);
    assert.equal(ledger(a.address), '');
});

test('facilitator settlement of a version 1 payment: the facilitator sees version 2\'s form, settles once', async () => {
    f = new Facilitator({ rpcUrl: s.chainUrl, chainId: 84532, privateKey: FACILITATOR_KEY });
    f.port = await freePort();
    await f.start();
    const conf = s.env.AXON_WORKER_CONF;
    s.env.AXON_WORKER_CONF = `${conf}\nx402_settle facilitator\nx402_facilitator_url ${f.url}\n`;
    try {
        await s.stack('stop', 'worker');
        await s.stack('start', 'worker');
        const a = payer(2);
        const key = keygen('k-fac');
        const sent = [];
        const before = await balanceOf(a.address);
        const res = await agentV1(a, sent)(s.url('/api/x402/session'), { method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ profile: 'small', minutes: 30, ssh_public_key: key.pub }) });
        const r = await res.json();
        assert.equal(res.status, 200, JSON.stringify(r));
        assert.equal(decodeXPaymentResponse(res.headers.get('X-PAYMENT-RESPONSE')).success, true);
        assert.deepEqual(f.requests.map(q => q.path), ['/verify', '/settle']);
        const q = f.requests[1].body;
        assert.equal(q.paymentPayload.x402Version, 2);
        assert.equal(q.paymentPayload.accepted.network, NETWORK);
        assert.deepEqual(q.paymentPayload.payload, unb64(sent[0]).payload);
        assert.equal(await balanceOf(a.address), before - 30n * PRICE);
        assert.equal(ledger(a.address), `30:x402:${r.payment_id}:${lower(a.address)}`);
        assert.equal(s.sql(`SELECT settle_mode FROM x402_payments WHERE nonce = '${r.payment_id}'`), 'facilitator');
        const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.auth_token}` } });
        assert.equal(rel.status, 202);
        await waitFor(() => live(a.address) === '0', 'the session ended');
    } finally {
        s.env.AXON_WORKER_CONF = conf;
    }
});
