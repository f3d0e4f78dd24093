// axon_compat original: a client of the gate axon replaces, as plain HTTP
// requests built from its published API (shared/notes/original-gate.md):
// challenge, verify-wallet, its three token carriers, wallet-status,
// claim (SSH), heartbeat, status, restart, release, quote, config,
// verify-deposit; each answer has the original's fields, a wallet_address
// that is not the token's is refused, and the container launched has the
// original image's AXGT_* variables.  A second server with the layer off
// (the default) answers those paths 404 and ignores those carriers.
// Real nginx, worker, Postgres, Redis, the local chain and podman.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Wallet } from 'ethers';
import { createWalletClient, http } from 'viem';
import { baseSepolia } from 'viem/chains';
import { privateKeyToAccount } from 'viem/accounts';
import { wrapFetchWithPayment as wrapV1, decodeXPaymentResponse } from 'x402-fetch';
import { Stack, freePort, waitFor, ROOT } from './lib/stack.mjs';

// the local chain as Base Sepolia (84532): x402 version 1, as the
// original's agents pay, beside version 2
const s = new Stack({
    sessions: true,
    chain: true,
    env: { AXON_CHAIN_ID: '84532' },
    workerConf: ['gpu_hosts local=0,1', 'profiles "small:1:1 medium:2:1"',
                 'billing_minute 2s', 'billing_tick 200ms', 'session_grace 4s',
                 'launcher_timeout 20s', 'launcher_ready_timeout 20s',
                 'reconcile_interval 2s', 'port_pool_size 2',
                 'job_retry_min 100ms', 'job_retry_max 1s', 'x402_receipt_wait 2s'].join('\n'),
    nginx: async st => {
        st.offPort = await freePort();
        return `
server {
    listen 127.0.0.1:${st.offPort};
    location /api/ {
        axon_api;
    }
}
`;
    },
});

const keys = mkdtempSync(join(tmpdir(), 'axon-compat-'));
let prefix;
before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
});
after(async () => {
    rmSync(keys, { recursive: true, force: true });
    await s.stop();
});

const penv = { ...process.env, CONTAINERS_CONF: `${ROOT}/conf/podman/containers.conf` };
function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

// plain HTTP as the original's page or script sends it
async function call(path, { method = 'GET', headers = {}, body, port = s.port } = {}) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, body: json };
}

function has(body, fields, what) {
    for (const f of fields) assert.ok(f in body, `${what}: no "${f}" in ${JSON.stringify(body)}`);
}

let refs = 0;
function grant(addr, minutes) {
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr, 'minutes', String(minutes),
            'ref', `compat-${process.pid}-${++refs}`);
    return waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'the grant');
}

// the original's sign-in: challenge, the client signs what it is given
async function signIn(w) {
    const addr = w.address.toLowerCase();
    const c = await call(`/api/auth/challenge?wallet_address=${addr}`);
    assert.equal(c.status, 200, JSON.stringify(c.body));
    has(c.body, ['challenge', 'challenge_expires_in_seconds'], 'challenge');
    assert.equal(c.body.challenge_expires_in_seconds, 300);
    const signature = await w.signMessage(c.body.challenge);
    const v = await call('/api/auth/verify-wallet', { method: 'POST',
        body: { wallet_address: addr, message: c.body.challenge, signature } });
    assert.equal(v.status, 200, JSON.stringify(v.body));
    has(v.body, ['verified', 'wallet_address', 'auth_token', 'auth_token_expires_in_seconds'], 'verify-wallet');
    assert.equal(v.body.verified, true);
    assert.equal(v.body.wallet_address, addr);
    assert.match(v.body.auth_token, /^[A-Za-z0-9_-]{43}$/);
    return { w, addr, token: v.body.auth_token, h: { 'x-axgt-auth-token': v.body.auth_token } };
}

function keygen() {
    const f = join(keys, `k${++refs}`);
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'compat', '-f', f]);
    return readFileSync(`${f}.pub`, 'utf8').trim();
}

test('sign-in: the original\'s names; a signature with another wallet_address is refused; bad input is the original\'s 400', async () => {
    await signIn(Wallet.createRandom());

    const w = Wallet.createRandom(), other = Wallet.createRandom();
    const c = await call(`/api/auth/challenge?wallet_address=${w.address.toLowerCase()}`);
    const signature = await w.signMessage(c.body.challenge);
    const v = await call('/api/auth/verify-wallet', { method: 'POST',
        body: { wallet_address: other.address.toLowerCase(), message: c.body.challenge, signature_hex: signature } });
    assert.equal(v.status, 401);
    assert.equal(v.body.verified, false);
    assert.equal(v.body.error, 'Wallet signature verification failed.');

    const bad = await call('/api/auth/verify-wallet', { method: 'POST',
        body: { wallet_address: 'nope', message: 'x', signature: '0x' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.verified, false);
    assert.equal(typeof bad.body.error, 'string');

    // the nonce still works: signature_hex is the original's other name,
    // and its hex may come without 0x
    const ok = await call('/api/auth/verify-wallet', { method: 'POST',
        body: { wallet_address: w.address.toLowerCase(), message: c.body.challenge,
                signature_hex: signature.slice(2) } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    // axon's own sign-in on the same paths is answered axon's way
    const a = await call(`/api/auth/challenge?address=${w.address}`);
    assert.equal(a.status, 200);
    assert.ok(!('challenge' in a.body));
});

test('token carriers: the axgt_auth_token cookie, X-AXGT-Auth-Token, ?auth_token=; wallet-status with each', async () => {
    const u = await signIn(Wallet.createRandom());
    const fields = ['wallet_address', 'verified', 'locked', 'access_type', 'remaining_minutes', 'reason',
                    'auth_token_expires_in_seconds'];
    for (const [how, req] of [
        ['cookie', { headers: { cookie: `axgt_auth_token=${u.token}` } }],
        ['header', { headers: { 'x-axgt-auth-token': u.token } }],
        ['query', { path: `?auth_token=${u.token}` }],
    ]) {
        const r = await call(`/api/auth/wallet-status${req.path || ''}`, req);
        assert.equal(r.status, 200, `${how}: ${JSON.stringify(r.body)}`);
        has(r.body, fields, `wallet-status by ${how}`);
        assert.equal(r.body.wallet_address, u.addr);
        assert.equal(r.body.verified, false);
        assert.equal(r.body.remaining_minutes, 0);
        assert.match(r.body.error, /No prepaid credit/);
    }
    // the token in the query is not in the access log
    assert.ok(!s.log('nginx-access.log').includes(u.token));

    const none = await call('/api/auth/wallet-status');
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'Valid auth token required');

    // the cookie is ambient: acting with it needs this gate's own page
    const cross = await call('/api/session/release', { method: 'POST',
        headers: { cookie: `axgt_auth_token=${u.token}` }, body: { wallet_address: u.addr } });
    assert.equal(cross.status, 403);

    await grant(u.addr, 50);
    const r = await call('/api/auth/wallet-status', { headers: u.h });
    assert.equal(r.body.verified, true);
    assert.equal(r.body.remaining_minutes, 50);
    assert.equal(r.body.access_type, 'deposit_credit');
});

test('a wallet_address that is not the token\'s is refused, and nothing is done', async () => {
    const u = await signIn(Wallet.createRandom());
    await grant(u.addr, 50);
    const other = Wallet.createRandom().address.toLowerCase();

    const c = await call('/api/session/claim', { method: 'POST', headers: u.h,
        body: { wallet_address: other, requested_profile: 'small' } });
    assert.equal(c.status, 401);
    assert.equal(c.body.granted, false);
    assert.equal(typeof c.body.error, 'string');
    assert.equal((await call(`/api/auth/wallet-status?wallet_address=${other}`, { headers: u.h })).status, 401);
    assert.equal((await call(`/api/session/status?wallet_address=${other}`, { headers: u.h })).status, 401);
    assert.equal(s.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'session'), '', 'no session claimed');

    // named in the query of a POST, with or without a JSON body: the same
    const jobs = () => s.redis('XLEN', 'axon:jobs');
    const before = jobs();
    for (const [path, body] of [['/api/session/claim', { requested_profile: 'small' }],
        ['/api/auth/verify-deposit', { tx_hash: '0x' + 'ab'.repeat(32) }],
        ['/api/session/heartbeat', undefined], ['/api/session/release', undefined],
        ['/api/session/heartbeat', {}], ['/api/session/release', {}]]) {
        const r = await call(`${path}?wallet_address=${other}`, { method: 'POST', headers: u.h, body });
        assert.equal(r.status, 401, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, 'wallet_mismatch', `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(typeof r.body.error, 'string');
    }
    const q = await call('/api/session/claim?wallet_address=x', { method: 'POST', headers: u.h,
        body: { requested_profile: 'small' } });
    assert.equal(q.status, 400, JSON.stringify(q.body));
    assert.equal(q.body.error, 'Valid wallet_address required');
    assert.equal(s.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'session'), '', 'no session claimed');
    assert.equal(jobs(), before, 'no job queued');

    const bad = await call('/api/session/claim', { method: 'POST', headers: u.h,
        body: { wallet_address: 'x', requested_profile: 'small' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'Valid wallet_address required');

    const noToken = await call('/api/session/claim', { method: 'POST',
        body: { wallet_address: u.addr, requested_profile: 'small' } });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.error, 'Valid auth token required');
});

test('the original\'s session sequence: claim (SSH), heartbeat, status, restart, release; the container has AXGT_*', async () => {
    const u = await signIn(Wallet.createRandom());

    // no session yet: none, not axon's error
    const none = await call(`/api/session/status?wallet_address=${u.addr}`, { headers: u.h });
    assert.equal(none.status, 200, JSON.stringify(none.body));
    assert.equal(none.body.active, false);
    assert.equal(none.body.session, null);

    const broke = await call('/api/session/claim', { method: 'POST', headers: u.h,
        body: { wallet_address: u.addr, requested_profile: 'small' } });
    assert.equal(broke.status, 200, 'the original refuses a claim with 200');
    assert.equal(broke.body.granted, false);
    assert.match(broke.body.reason, /No prepaid credit/);

    const badKey = await call('/api/session/claim', { method: 'POST', headers: u.h,
        body: { wallet_address: u.addr, requested_profile: 'small', requested_ssh: true, ssh_pubkey: 'nope' } });
    assert.equal(badKey.status, 400);
    assert.equal(badKey.body.error, 'A valid SSH public key is required for SSH access');

    await grant(u.addr, 100);
    const key = keygen();
    const body = { wallet_address: u.addr, requested_profile: 'small', requested_ssh: true, ssh_pubkey: key };
    const first = await call('/api/session/claim', { method: 'POST', headers: u.h, body });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    has(first.body, ['granted', 'session_id', 'requested_profile', 'allocation_status'], 'claim');
    assert.equal(first.body.requested_profile, 'small', 'named from the first answer on');
    const id = first.body.session_id;

    // axon queues and starts; the original's client claims again
    const g = await waitFor(async () => {
        const r = await call('/api/session/claim', { method: 'POST', headers: u.h, body });
        return r.body.granted ? r : null;
    }, 'granted', 90000);
    assert.equal(g.status, 200);
    has(g.body, ['granted', 'session_id', 'requested_profile', 'assigned_gpu_ids', 'container_id',
                 'allocation_status', 'ssh_enabled', 'ssh_host', 'ssh_port', 'ssh_user'], 'granted claim');
    assert.equal(g.body.session_id, id);
    assert.equal(g.body.allocation_status, 'allocated');
    assert.equal(g.body.requested_profile, 'small');
    assert.equal(g.body.ssh_enabled, true);
    assert.equal(typeof g.body.ssh_port, 'number');
    assert.equal(g.body.ssh_user, 'aXonian');

    // the original image's variables beside axon's
    const env = JSON.parse(podman('inspect', '--format', '{{json .Config.Env}}', `${prefix}${id}`).out);
    for (const v of [`AXGT_SESSION_ID=${id}`, `AXGT_WALLET_ADDRESS=${u.addr}`, 'AXGT_REQUESTED_PROFILE=small',
                     'AXGT_DESKTOP_ENABLED=false', 'AXGT_SSH_ENABLED=true', `AXGT_SSH_PUBKEY=${key}`,
                     `AXON_SESSION=${id}`]) {
        assert.ok(env.includes(v), `${v} in ${JSON.stringify(env)}`);
    }
    assert.ok(env.some(e => /^AXGT_ASSIGNED_GPU_IDS=\d$/.test(e)), JSON.stringify(env));

    const hb = await call('/api/session/heartbeat', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
    has(hb.body, ['ok', 'remaining_seconds', 'requested_profile', 'assigned_gpu_ids', 'container_id',
                  'allocation_status', 'gpu_billing_enabled', 'billing_gpu_count'], 'heartbeat');
    assert.equal(hb.body.ok, true);
    assert.equal(hb.body.allocation_status, 'allocated');
    // a body that is not JSON names no wallet_address: axon's own heartbeat,
    // as without the layer (not 415)
    const plain = await call('/api/session/heartbeat', { method: 'POST',
        headers: { ...u.h, 'content-type': 'text/plain' }, body: 'ping' });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.equal(plain.body.session_id, id);
    assert.ok(!('ok' in plain.body), 'answered axon\'s way');

    const st = await call(`/api/session/status?wallet_address=${u.addr}`, { headers: u.h });
    assert.equal(st.status, 200);
    has(st.body, ['active', 'multi_session_enabled', 'gpu_profiles_enabled', 'active_sessions_count',
                  'active_wallet', 'session_remaining_seconds', 'is_owner', 'active_sessions'], 'status');
    assert.equal(st.body.active, true);
    assert.equal(st.body.is_owner, true);
    has(st.body.active_sessions[0], ['session_id', 'wallet_address', 'requested_profile', 'assigned_gpu_ids',
                                     'container_id', 'allocation_status', 'started_at'], 'active_sessions[0]');
    assert.equal(st.body.active_sessions[0].session_id, id);

    const rs = await call('/api/session/restart', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(rs.status, 200);
    assert.equal(rs.body.restarted, false);
    assert.equal(typeof rs.body.reason, 'string');

    // the gate's metrics count the original's routes under their own names
    const m = await (await fetch(s.url('/metrics'))).text();
    assert.match(m, /axon_http_requests_total\{route="original\/session\/claim",status="200"\} \d+/);
    assert.match(m, /axon_http_requests_total\{route="session\/heartbeat",status="200"\} \d+/);

    const rel = await call('/api/session/release', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(rel.status, 200, JSON.stringify(rel.body));
    has(rel.body, ['released', 'released_gpu_ids', 'container_id'], 'release');
    assert.equal(rel.body.released, true);

    await waitFor(async () => (await call('/api/session/status', { headers: u.h })).body.active === false,
        'the session ended', 60000);
    const again = await call('/api/session/release', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(again.status, 200);
    assert.equal(again.body.released, false);
    assert.equal(again.body.reason, 'No active session for this wallet');
    const hb2 = await call('/api/session/heartbeat', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(hb2.status, 200);
    assert.equal(hb2.body.ok, false);
    assert.equal(hb2.body.reason, 'No active session for this wallet');
});

test('a desktop claim: granted once running, and its container is told AXGT_DESKTOP_ENABLED=true', async () => {
    const u = await signIn(Wallet.createRandom());
    await grant(u.addr, 100);
    // requested_profile left out: the original's default, small
    const body = { wallet_address: u.addr };
    const g = await waitFor(async () => {
        const r = await call('/api/session/claim', { method: 'POST', headers: u.h, body });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.granted ? r : null;
    }, 'granted', 90000);
    assert.ok(!('ssh_enabled' in g.body));
    assert.equal(g.body.requested_profile, 'small');
    const env = JSON.parse(podman('inspect', '--format', '{{json .Config.Env}}',
                                  `${prefix}${g.body.session_id}`).out);
    assert.ok(env.includes('AXGT_DESKTOP_ENABLED=true'), JSON.stringify(env));
    assert.ok(!env.some(e => e.startsWith('AXGT_SSH_')), JSON.stringify(env));
    const rel = await call('/api/session/release', { method: 'POST', headers: u.h, body: { wallet_address: u.addr } });
    assert.equal(rel.body.released, true);
});

test('quote, config, verify-deposit in the original\'s names', async () => {
    const u = await signIn(Wallet.createRandom());

    const q = await call(`/api/discount/quote?wallet_address=${u.addr}&base_eth=0.001`, { headers: u.h });
    assert.equal(q.status, 200, JSON.stringify(q.body));
    has(q.body, ['ok', 'wallet_address', 'base_eth', 'final_eth', 'discount_percent', 'tier_index', 'tier_label',
                 'tier_min_axgt', 'axgt_balance', 'axgt_balance_floor', 'balance_check_ok', 'balance_check_error',
                 'tiers', 'estimated_minutes', 'eth_credit_per_eth_minutes'], 'quote');
    assert.equal(q.body.ok, true);
    assert.equal(q.body.base_eth, 0.001);
    assert.ok(q.body.eth_credit_per_eth_minutes > 0);
    // what 0.001 ETH buys at the undiscounted rate (whole minutes, rounding apart)
    assert.ok(Math.abs(q.body.estimated_minutes - 0.001 * q.body.eth_credit_per_eth_minutes) <= 1,
        JSON.stringify(q.body));
    assert.equal(q.body.wallet_address, u.addr);

    const badQ = await call(`/api/discount/quote?wallet_address=${u.addr}&base_eth=x`, { headers: u.h });
    assert.equal(badQ.status, 400);
    assert.equal(badQ.body.ok, false);
    assert.equal(badQ.body.error, 'Invalid base_eth value');

    const c = await call('/api/config');
    assert.equal(c.status, 200);
    has(c.body, ['axgt_contract_address', 'axgt_chain_id', 'axgt_revenue_wallet', 'axgt_token_decimals',
                 'eth_deposits_enabled', 'eth_credit_per_eth_minutes', 'axgt_discount_tiers',
                 'multi_session_enabled', 'gpu_profiles_enabled', 'gpu_profiles', 'gpu_weighted_billing_enabled',
                 'chain', 'tokens'], 'config');
    assert.equal(c.body.axgt_chain_id, c.body.chain.id);
    assert.equal(c.body.axgt_revenue_wallet, c.body.revenue_wallet);
    assert.equal(c.body.eth_deposits_enabled, true);
    assert.deepEqual(c.body.gpu_profiles, { small: 1, medium: 2 });
    // axon's clients share the path: its refusals stay axon's
    const post = await call('/api/config', { method: 'POST', body: {} });
    assert.equal(post.status, 405);
    assert.equal(post.body.error.code, 'method_not_allowed');

    const tx = `0x${'ab'.repeat(32)}`;
    const d = await call('/api/auth/verify-deposit', { method: 'POST', headers: u.h,
        body: { wallet_address: u.addr, tx_hash: tx } });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    has(d.body, ['verified', 'pending', 'wallet_address', 'tx_hash', 'error', 'confirmations', 'required'],
        'verify-deposit');
    assert.equal(d.body.pending, true);
    assert.equal(d.body.tx_hash, tx);
});

// the unmodified x402-fetch 1.x client; sent[] records its X-PAYMENT headers
function agentV1(i, sent) {
    const account = privateKeyToAccount(s.chain.demo_wallets[i].private_key);
    const wallet = createWalletClient({ account, chain: baseSepolia, transport: http(s.chainUrl) });
    const spy = async (input, init) => {
        const h = init?.headers?.['X-PAYMENT'];
        if (h) sent.push(h);
        return fetch(input, init);
    };
    return { addr: account.address.toLowerCase(), pay: wrapV1(spy, wallet, 10_000_000n) };
}

test('x402 the original\'s way: access 402s, the version 1 client pays it and settle, credited once, no session', async () => {
    const sent = [];
    const a = agentV1(0, sent);
    const ledger = () => s.sql(`SELECT coalesce(string_agg(delta_minutes::text, ','), '') FROM credit_ledger
                              WHERE wallet = '${a.addr}' AND kind = 'deposit'`);

    // unfunded: 402 with version 1's requirement of the minutes asked for
    const q = await call(`/api/x402/access?wallet_address=${a.addr}&minutes=30`);
    assert.equal(q.status, 402, JSON.stringify(q.body));
    has(q.body, ['x402Version', 'accepts', 'error'], 'access 402');
    assert.equal(q.body.x402Version, 1);
    assert.equal(q.body.accepts.length, 1);
    has(q.body.accepts[0], ['scheme', 'network', 'maxAmountRequired', 'resource', 'description', 'mimeType',
                            'payTo', 'maxTimeoutSeconds', 'asset', 'extra'], 'accepts[0]');
    assert.equal(q.body.accepts[0].network, 'base-sepolia');
    assert.equal(q.body.accepts[0].maxAmountRequired, String(30 * 16667));
    const unsold = await call(`/api/x402/access?wallet_address=${a.addr}&minutes=7`);
    assert.equal(unsold.status, 400);
    assert.equal(unsold.body.code, 'unknown_minutes');

    // the client sends the same GET again with X-PAYMENT
    const res = await a.pay(s.url(`/api/x402/access?wallet_address=${a.addr}&minutes=30`));
    const r = await res.json();
    assert.equal(res.status, 200, JSON.stringify(r));
    assert.equal(sent.length, 1);
    has(r, ['access', 'remaining_minutes', 'verified', 'x402', 'settlement_tx_hash', 'wallet_address', 'tx_hash',
            'deposit_currency', 'usdc_amount', 'credited_minutes', 'auth_token'], 'paid access');
    assert.equal(r.access, true);
    assert.equal(r.x402, true);
    assert.equal(r.wallet_address, a.addr);
    assert.equal(r.credited_minutes, 30);
    assert.equal(r.remaining_minutes, 30);
    assert.equal(r.usdc_amount, '0.500010');
    assert.match(r.settlement_tx_hash, /^0x[0-9a-f]{64}$/);
    const settle = decodeXPaymentResponse(res.headers.get('X-PAYMENT-RESPONSE'));
    assert.equal(settle.success, true);
    assert.equal(settle.transaction, r.settlement_tx_hash);
    assert.equal(ledger(), '30');
    assert.equal(s.sql(`SELECT count(*) FROM sessions WHERE wallet = '${a.addr}'`), '0', 'no session');

    // funded, with the token the payment gave: 200 without paying
    const f = await call(`/api/x402/access?wallet_address=${a.addr}&minutes=30`,
        { headers: { 'x-axgt-auth-token': r.auth_token } });
    assert.equal(f.status, 200, JSON.stringify(f.body));
    assert.deepEqual(f.body, { access: true, remaining_minutes: 30 });

    // the same authorization again: through settle, through version 2's
    // path: refused, credited once
    const again = await call('/api/x402/settle', { method: 'POST', headers: { 'x-payment': sent[0] } });
    assert.equal(again.status, 402, JSON.stringify(again.body));
    assert.equal(again.body.error, 'invalid_exact_evm_nonce_already_used');
    const key = keygen();
    const viaSession = await call('/api/x402/session', { method: 'POST', headers: { 'x-payment': sent[0] },
        body: { profile: 'small', minutes: 30, ssh_public_key: key } });
    assert.equal(viaSession.status, 402, JSON.stringify(viaSession.body));
    assert.equal(viaSession.body.error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(ledger(), '30');
    assert.equal(s.sql(`SELECT count(*) FROM x402_payments WHERE payer = '${a.addr}'`), '1');

    // settle: unpaid 402, then the client pays it
    const b = agentV1(1, []);
    const bare = await call('/api/x402/settle', { method: 'POST' });
    assert.equal(bare.status, 402);
    assert.equal(bare.body.x402Version, 1);
    const sr = await b.pay(s.url('/api/x402/settle?minutes=60'), { method: 'POST' });
    const sb = await sr.json();
    assert.equal(sr.status, 200, JSON.stringify(sb));
    has(sb, ['verified', 'x402', 'settlement_tx_hash', 'credited_minutes', 'remaining_minutes',
             'deposit_currency'], 'settle');
    assert.equal(sb.verified, true);
    assert.equal(sb.credited_minutes, 60);
    assert.equal(sb.wallet_address, b.addr);

    // the original's paid session: its body's names, granted once running
    const c = agentV1(2, []);
    const pub = keygen();
    const xr = await c.pay(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ wallet_address: c.addr, ssh_pubkey: pub }) });
    const xb = await xr.json();
    assert.equal(xr.status, 200, JSON.stringify(xb));
    has(xb, ['granted', 'ssh_host', 'ssh_port', 'ssh_user', 'remaining_minutes', 'auth_token'], 'x402/session');
    assert.equal(xb.granted, true);
    assert.equal(xb.remaining_minutes, 30);
    assert.equal(typeof xb.ssh_port, 'number');
    const env = JSON.parse(podman('inspect', '--format', '{{json .Config.Env}}', `${prefix}${xb.session_id}`).out);
    assert.ok(env.includes(`AXGT_SSH_PUBKEY=${pub}`), JSON.stringify(env));
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${xb.auth_token}` } });
    assert.equal(rel.status, 202);

    // a malformed X-PAYMENT: the clear 400, nothing recorded
    assert.equal((await call('/api/x402/settle', { method: 'POST', headers: { 'x-payment': 'nope' } })).status, 400);
});

test('telemetry: the totals of every wallet in the original\'s sections, from Postgres through the worker', async () => {
    const sql = q => Number(s.sql(q));
    const total = sql('SELECT count(*) FROM sessions');
    assert.ok(total >= 2, 'the tests before made sessions');
    // the worker publishes each reconcile_interval (2s here)
    const sum = await waitFor(async () => {
        const r = await call('/api/public/telemetry/summary');
        return r.status === 200 && r.body.sessions.total === sql('SELECT count(*) FROM sessions') ? r : null;
    }, 'the summary of every session');
    has(sum.body, ['sessions', 'deposits', 'webrtc'], 'summary');
    has(sum.body.sessions, ['total', 'unique_wallets', 'failed_allocations', 'active', 'total_wall_minutes',
                            'first_session_ts', 'last_session_ts'], 'summary.sessions');
    has(sum.body.deposits, ['total_credited_minutes', 'total_consumed_minutes', 'total_remaining_minutes'],
        'summary.deposits');
    has(sum.body.webrtc, ['total', 'closed', 'failed', 'answered'], 'summary.webrtc');
    assert.equal(sum.body.sessions.unique_wallets, sql('SELECT count(DISTINCT wallet) FROM sessions'));
    assert.ok(sum.body.deposits.total_credited_minutes >= 300, JSON.stringify(sum.body.deposits));
    assert.ok(sum.body.sessions.last_session_ts >= sum.body.sessions.first_session_ts);

    for (const [name, field] of [['sessions', 'sessions'], ['wallets', 'wallets'], ['live', 'live'],
                                 ['webrtc', 'webrtc'], ['events', 'events']]) {
        const r = await call(`/api/public/telemetry/${name}`);
        assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
        assert.ok(field in r.body, `${name}: ${JSON.stringify(r.body)}`);
    }
    const live = (await call('/api/public/telemetry/live')).body.live;
    has(live, ['active_sessions', 'queued_sessions', 'total_gpus', 'free_gpus'], 'live');
    assert.equal(live.total_gpus, 2);
    // no wallet's address in any of them
    for (const name of ['summary', 'sessions', 'wallets', 'live', 'events']) {
        const r = await call(`/api/public/telemetry/${name}`);
        assert.ok(!/0x[0-9a-fA-F]{40}/.test(JSON.stringify(r.body)), name);
    }
    assert.equal((await call('/api/public/telemetry/nope')).status, 404);
});

test('with the layer off (the default): the original\'s paths are 404 and its carriers are not taken', async () => {
    const u = await signIn(Wallet.createRandom());
    const off = { port: s.offPort };
    for (const [path, method] of [['/api/session/claim', 'POST'], ['/api/session/release', 'POST'],
                                  ['/api/session/status', 'GET'], ['/api/session/restart', 'POST'],
                                  ['/api/discount/quote', 'GET'], ['/api/auth/wallet-status', 'GET'],
                                  ['/api/public/telemetry/summary', 'GET'], ['/api/x402/access', 'GET'],
                                  ['/api/x402/settle', 'POST']]) {
        const r = await call(path, { ...off, method, headers: u.h,
            body: method === 'POST' ? { wallet_address: u.addr } : undefined });
        assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await call('/api/me', { ...off, headers: u.h })).status, 401);
    assert.equal((await call(`/api/me?auth_token=${u.token}`, off)).status, 401);
    assert.equal((await call('/api/me', { ...off, headers: { cookie: `axgt_auth_token=${u.token}` } })).status, 401);
    assert.equal((await call('/api/me', { ...off, headers: { authorization: `Bearer ${u.token}` } })).status, 200);

    const c = await call('/api/config', off);
    assert.equal(c.status, 200);
    assert.ok(!('axgt_chain_id' in c.body));
    const ch = await call(`/api/auth/challenge?wallet_address=${u.addr}`, off);
    assert.equal(ch.status, 400, 'axon\'s challenge wants ?address=');
});
