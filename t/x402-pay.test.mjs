// x402 end to end: the unmodified x402 SDK client pays for an
// SSH GPU session, the worker settles the payment (x402_settle self: its
// own transferWithAuthorization from a gas wallet; then x402_settle
// facilitator: a local facilitator built from the SDK's own code), credits
// the payer once, claims the session, and a real ssh runs a command in it;
// a top-up extends it; release keeps the unused minutes as credit.  A
// replayed header, a payer without the money, a chain node or facilitator
// that is down: no session, no credit, and paying again later works.
// Real nginx, worker, Postgres, Redis, ganache, podman, ssh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { Stack, freePort, waitFor } from './lib/stack.mjs';
import { Facilitator } from './lib/facilitator.mjs';

const NETWORK = 'eip155:1337';
const PRICE = 16667n;                   // chain/deploy.mjs: atomic USDC per credit minute
const dir = mkdtempSync(join(tmpdir(), 'axon-x402-'));
// ganache's deployer (a well-known key): the local facilitator's gas wallet
const FACILITATOR_KEY = '0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d';

const BASE = ['gpu_hosts local=0,1,2,3', 'profiles "small:1:1 large:2:1"',
    'billing_minute 2s', 'session_grace 4s', 'billing_tick 200ms', 'launcher_timeout 20s',
    'launcher_ready_timeout 20s', 'reconcile_interval 2s', 'port_pool_size 4',
    'job_retry_min 100ms', 'job_retry_max 1s', 'x402_receipt_wait 2s'];

// the stack's chain configures x402_settle self with its gas wallet
// (chain/deploy.mjs: x402_gas_wallet in chain.json, its key in a 0600 file)
let shortPort;
const s = new Stack({ chain: true, sessions: true, workerConf: BASE.join('\n'), nginx: async () => {
    // a server whose paid requests wait 2 s only: the 202 of a queued session
    shortPort = await freePort();
    return `server { listen 127.0.0.1:${shortPort}; axon_x402_wait 2s; location /api/ { axon_api; } }\n`;
} });
let usdc, fport, f;

before(async () => {
    fport = await freePort();
    await s.start();
    usdc = s.chain.tokens.USDC;
});

after(async () => {
    await f?.stop();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
});

async function restartWorker(lines) {
    s.env.AXON_WORKER_CONF = s.env.AXON_WORKER_CONF.replace(BASE.join('\n'), lines.join('\n'));
    BASE.splice(0, BASE.length, ...lines);
    await s.stack('stop', 'worker');
    await s.stack('start', 'worker');
}

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

// the SDK's fetch wrapper for an account; sent[] records the payment headers it sent
// (send: what sends the request; a test may keep it)
function agent(account, sent = [], send = fetch) {
    const c = new x402Client();
    registerExactEvmScheme(c, { signer: account });
    c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: usdc.address,
        maxAmountPerPayment: '100000000' }] });
    const spy = async (input, init) => {
        const req = new Request(input, init);
        const sig = req.headers.get('PAYMENT-SIGNATURE');
        if (sig) sent.push(sig);
        return send(req);
    };
    return wrapFetchWithPayment(spy, c);
}

async function pay(account, body, sent, url = s.url('/api/x402/session')) {
    const res = await agent(account, sent)(url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    const h = res.headers.get('PAYMENT-RESPONSE');
    return { status: res.status, body: json, settle: h ? decodePaymentResponseHeader(h) : null };
}

async function balanceOf(addr) {
    const data = '0x70a08231' + addr.slice(2).toLowerCase().padStart(64, '0');
    return BigInt(await s.rpc('eth_call', [{ to: usdc.address, data }, 'latest']));
}

const unquote = t => t.replace(/^"(.*)"$/, '$1');     // redis-cli --no-raw
const payer = i => privateKeyToAccount(s.chain.demo_wallets[i].private_key);
const lower = a => a.toLowerCase();
const ledger = addr => s.sql(`SELECT coalesce(string_agg(delta_minutes::text || ':' || idempotency_key, ',' ORDER BY id), '')
                              FROM credit_ledger WHERE wallet = '${lower(addr)}' AND kind = 'deposit'`);
const balance = addr => Number(s.sql(`SELECT coalesce((SELECT balance FROM wallet_balances WHERE wallet = '${lower(addr)}'), 0)`));
const live = addr => s.sql(`SELECT count(*) FROM sessions WHERE wallet = '${lower(addr)}' AND state <> 'ended'`);

test('self settlement: the SDK pays, the worker sends transferWithAuthorization, credits once, and ssh runs in the session; a top-up extends it; release keeps the rest', async () => {
    const a = payer(0);
    const key = keygen('k-self');
    const before = { payer: await balanceOf(a.address), revenue: await balanceOf(s.chain.revenue_wallet) };
    const sent = [];

    const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub }, sent);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.settle.success, true);
    assert.match(r.settle.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(lower(r.settle.payer), lower(a.address));
    assert.equal(sent.length, 1);

    // on chain: the payer paid payTo exactly the price, from our gas wallet's transaction
    const amount = 30n * PRICE;
    assert.equal(await balanceOf(a.address), before.payer - amount);
    assert.equal(await balanceOf(s.chain.revenue_wallet), before.revenue + amount);
    const tx = await s.rpc('eth_getTransactionByHash', [r.settle.transaction]);
    assert.equal(lower(tx.from), lower(s.chain.x402_gas_wallet));
    assert.equal(lower(tx.to), lower(usdc.address));

    // the ledger: one row, keyed by the authorization's nonce
    const nonce = r.body.payment_id;
    assert.match(nonce, /^0x[0-9a-f]{64}$/);
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)}`);
    assert.equal(s.sql(`SELECT state || ' ' || tx_hash || ' ' || session_id FROM x402_payments WHERE nonce = '${nonce}'`),
                 `settled ${r.settle.transaction} ${r.body.session_id}`);

    // the session: SSH coordinates that work
    assert.equal(r.body.status, 'running');
    assert.ok(r.body.auth_token);
    const exp1 = Date.parse(r.body.expires_at);
    assert.ok(exp1 > Date.now() + 25 * 60e3 && exp1 <= Date.now() + 31 * 60e3, r.body.expires_at);
    const out = ssh(key, r.body.ssh_host, r.body.ssh_port, r.body.ssh_user, 'echo paid-$((6*7))');
    assert.equal(out.code, 0, out.err);
    assert.equal(out.out, 'paid-42');

    // the auth token is the payer's, as a sign-in's: the API takes it
    const me = await s.json('/api/session', { headers: { authorization: `Bearer ${r.body.auth_token}` } });
    assert.equal(me.status, 200);
    assert.equal(me.body.session_id, r.body.session_id);

    // a replay of the same header: refused, nothing changes
    const replay = await fetch(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json', 'PAYMENT-SIGNATURE': sent[0] },
        body: JSON.stringify({ profile: 'small', minutes: 30, ssh_public_key: key.pub }) });
    assert.equal(replay.status, 402);
    assert.equal((await replay.json()).error.code, 'invalid_exact_evm_nonce_already_used');
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)}`);
    assert.equal(await balanceOf(a.address), before.payer - amount);

    // the same job run again (a crash, a replay): nothing is paid, credited or claimed twice
    // (done jobs leave the stream: the job as the module wrote it, from the header sent)
    const payload = JSON.parse(Buffer.from(sent[0], 'base64').toString());
    assert.equal(payload.payload.authorization.nonce, nonce);
    const job = { kind: 'x402.pay', nonce, payer: lower(a.address), profile: 'small', minutes: '30',
        ssh_key: key.pub, amount: String(amount), payload: JSON.stringify(payload),
        requirements: JSON.stringify(payload.accepted),
        token_hash: unquote(s.redis('HGET', `axon:x402:pay:${nonce}`, 'token_hash')) };
    // (put on axon:jobs, the main process moves it to the x402 process's stream)
    const queued = unquote(s.redis('XADD', 'axon:jobs', '*', ...Object.entries(job).flat()));
    await waitFor(() => unquote(s.redis('HGET', `axon:job:${queued}`, 'state')) === 'done', 'the job moved');
    const moved = s.redis('HGETALL', `axon:job:${queued}`);
    const again = (moved.match(/moved to axon:x402:jobs as job (\S+)/) || assert.fail(`the job ${queued}: ${moved}`))[1];
    // (the x402 process's jobs keep their state under axon:x402:job:ID)
    await waitFor(() => unquote(s.redis('HGET', `axon:x402:job:${again}`, 'state')) === 'done', 'the job ran again');
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)}`);
    assert.equal(await balanceOf(a.address), before.payer - amount);
    assert.equal(live(a.address), '1');
    assert.equal(s.sql(`SELECT count(*) FROM auth_tokens WHERE wallet = '${lower(a.address)}'`), '1');

    // a top-up: the same session, more paid time
    const t = await pay(a, { profile: 'small', minutes: 60, session_id: r.body.session_id });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.session_id, r.body.session_id);
    assert.ok(Date.parse(t.body.expires_at) > exp1 + 55 * 60e3, `${t.body.expires_at} vs ${r.body.expires_at}`);
    assert.equal(ledger(a.address), `30:x402:${nonce}:${lower(a.address)},60:x402:${t.body.payment_id}:${lower(a.address)}`);
    assert.equal(live(a.address), '1');

    // release with the auth token: the unused minutes stay
    const rel = await s.json('/api/release', { method: 'POST',
        headers: { authorization: `Bearer ${r.body.auth_token}` } });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
    await waitFor(() => live(a.address) === '0', 'the session ended');
    const billed = Number(s.sql(`SELECT billed_minutes FROM sessions WHERE id = ${r.body.session_id}`));
    assert.ok(billed >= 1 && billed < 90, `billed ${billed}`);
    assert.equal(balance(a.address), 90 - billed);
});

test('a payer without the money: refused before any gas is spent, 402 with the reason, no credit, no session, no token', async () => {
    const poor = privateKeyToAccount(generatePrivateKey());
    const gas = BigInt(await s.rpc('eth_getTransactionCount', [s.chain.x402_gas_wallet, 'latest']));
    const r = await pay(poor, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-poor').pub });
    assert.equal(r.status, 402, JSON.stringify(r.body));
    assert.equal(r.settle?.success, false);
    assert.equal(r.settle.errorReason, 'invalid_exact_evm_insufficient_balance');
    assert.equal(r.body.auth_token, undefined);
    assert.equal(ledger(poor.address), '');
    assert.equal(live(poor.address), '0');
    assert.equal(s.sql(`SELECT state FROM x402_payments WHERE payer = '${lower(poor.address)}'`), 'failed');
    // no token anywhere, no transaction of ours, the record kept briefly, out of the pending sets
    assert.equal(s.sql(`SELECT count(*) FROM auth_tokens WHERE wallet = '${lower(poor.address)}'`), '0');
    const key = `axon:x402:pay:${r.body.payment_id}`;
    const hash = unquote(s.redis('HGET', key, 'token_hash'));
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(s.redis('EXISTS', `axon:token:${hash}`), '(integer) 0');
    const ttl = Number(s.redis('TTL', key).replace('(integer) ', ''));
    assert.ok(ttl > 0 && ttl <= 600, `ttl ${ttl}`);
    assert.equal(s.redis('ZSCORE', 'axon:x402:pending', r.body.payment_id), '(nil)');
    assert.equal(BigInt(await s.rpc('eth_getTransactionCount', [s.chain.x402_gas_wallet, 'latest'])), gas);
});

test('the chain node down: no session, no credit; paying again once it is back works', async () => {
    const a = payer(1);
    const key = keygen('k-down');
    const before = await balanceOf(a.address);
    await s.stopChain();
    let r;
    try {
        r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
    } finally {
        await s.startChain();
    }
    assert.equal(r.status, 402, JSON.stringify(r.body));
    assert.equal(r.settle.success, false);
    assert.equal(r.settle.errorReason, 'settlement_unavailable');
    assert.equal(ledger(a.address), '');
    assert.equal(live(a.address), '0');
    assert.equal(await balanceOf(a.address), before);

    // later: a new payment (the SDK signs a new authorization) settles
    let ok;
    await waitFor(async () => {
        ok = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
        return ok.status === 200;
    }, 'a payment after the node came back', 60000);
    assert.equal(ledger(a.address), `30:x402:${ok.body.payment_id}:${lower(a.address)}`);
    assert.equal(await balanceOf(a.address), before - 30n * PRICE);
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${ok.body.auth_token}` } });
    assert.equal(rel.status, 202);
    await waitFor(() => live(a.address) === '0', 'the session ended');
});

test('no GPU free: 202, settled and credited, the session queued; release leaves the queue and keeps the minutes', async () => {
    const a = payer(0);
    const had = balance(a.address);
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.drain', 'host', 'local', 'reason', 'x402 test');
    try {
        const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-queue').pub }, [],
                            `http://127.0.0.1:${shortPort}/api/x402/session`);
        assert.equal(r.status, 202, JSON.stringify(r.body));
        // settled within the server's 2 s, or still being settled (a
        // loaded machine): the status URL tells when it is
        if (r.body.status === 'settled') {
            assert.match(r.body.message, /settled and credited.*POST \/api\/release/s);
        } else {
            assert.equal(r.body.status, 'pending', JSON.stringify(r.body));
        }
        // the status: the states to anyone, the rest to the payer (the token works: settled)
        const anyone = await waitFor(async () => {
            const q = await s.json(r.body.status_url);
            return q.body.payment?.state === 'settled' && q.body.session?.status === 'queued' && q;
        }, 'the payment settled, the session queued');
        assert.deepEqual([anyone.status, anyone.body.payment, anyone.body.session],
                         [200, { state: 'settled' }, { status: 'queued' }]);
        assert.equal(balance(a.address), had + 30);
        const st = await s.json(r.body.status_url, { headers: { authorization: `Bearer ${r.body.auth_token}` } });
        assert.equal(st.status, 200);
        assert.equal(st.body.payment.state, 'settled');
        assert.equal(st.body.payment.payer, a.address.toLowerCase());
        assert.equal(st.body.session.status, 'queued');
        const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.body.auth_token}` } });
        assert.equal(rel.status, 202, JSON.stringify(rel.body));
        await waitFor(() => live(a.address) === '0', 'the queued session left');
        assert.equal(s.sql(`SELECT end_reason || ' ' || billed_minutes FROM sessions WHERE id = ${st.body.payment.session_id}`),
                     'released 0');
        assert.equal(balance(a.address), had + 30);
    } finally {
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.undrain', 'host', 'local');
    }
});

test('a session that cannot start (launch failure): the payment stays as credit, and the answer says how to use it', async () => {
    s.env.AXON_SSH_IMAGE = 'localhost/axon-no-such-image:none';    // axon-stack's launcher_ssh_image
    await restartWorker(BASE);
    try {
        const a = payer(1);
        const had = balance(a.address);
        const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-fail').pub });
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'session_not_started');
        assert.equal(r.body.end_reason, 'launch_failed');
        assert.equal(r.settle.success, true);
        assert.equal(r.body.credit_minutes, 30);
        assert.match(r.body.error.message, /POST \/api\/session/);
        assert.match(ledger(a.address), new RegExp(`30:x402:${r.body.payment_id}:${lower(a.address)}$`));
        assert.equal(live(a.address), '0');
        await waitFor(() => s.sql(`SELECT billed_minutes FROM sessions WHERE id = ${r.body.session_id}`) === '0',
                      'the failed session billed nothing');
        assert.equal(balance(a.address), had + 30);
    } finally {
        delete s.env.AXON_SSH_IMAGE;
        await restartWorker(BASE);
    }
});

test('facilitator settlement: /verify and /settle of a local facilitator; down, then back', async () => {
    f = new Facilitator({ rpcUrl: s.chainUrl, chainId: 1337, privateKey: FACILITATOR_KEY });
    f.port = fport;
    await f.start();
    await restartWorker([...BASE, 'x402_settle facilitator', `x402_facilitator_url ${f.url}`]);

    const a = payer(2);
    const key = keygen('k-fac');
    const before = await balanceOf(a.address);
    const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.settle.success, true);
    assert.deepEqual(f.requests.map(q => q.path), ['/verify', '/settle']);
    assert.equal(await balanceOf(a.address), before - 30n * PRICE);
    assert.equal(ledger(a.address), `30:x402:${r.body.payment_id}:${lower(a.address)}`);
    assert.equal(s.sql(`SELECT settle_mode FROM x402_payments WHERE nonce = '${r.body.payment_id}'`), 'facilitator');
    const out = ssh(key, r.body.ssh_host, r.body.ssh_port, r.body.ssh_user, 'echo via-facilitator');
    assert.equal(out.code, 0, out.err);
    assert.equal(out.out, 'via-facilitator');
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.body.auth_token}` } });
    assert.equal(rel.status, 202);
    await waitFor(() => live(a.address) === '0', 'the session ended');

    // the facilitator's /verify refuses (a payer without the USDC): its reason, no credit
    const poor = privateKeyToAccount(generatePrivateKey());
    const refused = await pay(poor, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
    assert.equal(refused.status, 402, JSON.stringify(refused.body));
    assert.equal(refused.settle.errorReason, 'invalid_exact_evm_insufficient_balance');
    assert.equal(ledger(poor.address), '');
    assert.equal(f.requests.filter(q => q.path === '/settle').length, 1);

    // the facilitator down: a clear failure, nothing charged
    await f.stop();
    const down = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
    assert.equal(down.status, 402, JSON.stringify(down.body));
    assert.equal(down.settle.errorReason, 'facilitator_unavailable');
    assert.equal(ledger(a.address), `30:x402:${r.body.payment_id}:${lower(a.address)}`);
    assert.equal(await balanceOf(a.address), before - 30n * PRICE);

    await f.start();
    const again = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: key.pub });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(ledger(a.address), `30:x402:${r.body.payment_id}:${lower(a.address)},30:x402:${again.body.payment_id}:${lower(a.address)}`);
});

// ---- one transfer on chain, one credit (payTo is the deposit revenue wallet here) ----

const USDC_ABI = ['function transfer(address,uint256) returns (bool)',
    'function transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)'];

// a wallet of its own, funded with USDC by a demo wallet (it never needs ETH: the gate pays the gas)
async function freshPayer(usdcAtoms = 10_000_000n) {
    const { Contract, Wallet } = await import('ethers');
    const eth = await s.ethers();
    const key = generatePrivateKey();
    const t = new Contract(usdc.address, USDC_ABI, eth.wallets[eth.wallets.length - 1]);
    await (await t.transfer(privateKeyToAccount(key).address, usdcAtoms)).wait();
    return { account: privateKeyToAccount(key), wallet: new Wallet(key, eth.provider) };
}

const depositState = tx => s.sql(`SELECT coalesce(string_agg(state || ':' || coalesce(credited_minutes, -1)
                                   || ':' || coalesce(reject_reason, ''), ','), '')
                                   FROM deposits WHERE tx_hash = '${lower(tx)}'`);
const verifyDeposit = (token, tx) => s.json('/api/auth/verify-deposit', { method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tx_hash: tx }) });
const DEPOSIT_CONFIRMATIONS = 6;        // the worker's default
const positive = addr => s.sql(`SELECT count(*) FROM credit_ledger WHERE wallet = '${lower(addr)}' AND delta_minutes > 0`);

test('an x402 payment mined past the confirmations is credited once: the indexer and verify-deposit (payer, another wallet) add nothing', async () => {
    const { account: a, wallet } = await freshPayer();
    const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-once').pub });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const tx = r.settle.transaction;
    const key = `30:x402:${r.body.payment_id}:${lower(a.address)}`;
    assert.match(ledger(a.address), new RegExp(`^30:x402:${r.body.payment_id}`));

    // the payer and another wallet submit the settlement's transaction as a deposit
    const mine = await s.signIn(wallet);
    const other = await s.signIn((await s.ethers()).wallets[0]);
    assert.equal((await verifyDeposit(mine.token, tx)).status, 202);
    assert.equal((await verifyDeposit(other.token, tx)).status, 202);

    // past the confirmations: the indexer and the confirmer see the same Transfer
    await s.mine(DEPOSIT_CONFIRMATIONS + 2);
    await waitFor(() => depositState(tx).startsWith('credited:'), 'the deposit handled', 60000);
    assert.equal(positive(a.address), '1');
    assert.equal(depositState(tx), 'credited:0:already_credited');
    assert.equal(s.sql(`SELECT count(*) FROM chain_credits WHERE tx_hash = '${tx}'`), '1');
    const shown = await waitFor(async () => {
        const d = await s.json('/api/deposits', { headers: { authorization: `Bearer ${mine.token}` } });
        return d.body.deposits?.find(e => e.tx_hash === tx && e.status === 'credited');
    }, 'the payer sees the deposit credited');
    assert.equal(shown.reason, 'already_credited');
    assert.equal(shown.minutes, 0);

    // exactly the paid minutes: one ledger row, the balance
    assert.equal(ledger(a.address), key);
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.body.auth_token}` } });
    assert.equal(rel.status, 202);
    await waitFor(() => live(a.address) === '0', 'the session ended');
    const billed = Number(s.sql(`SELECT coalesce(sum(billed_minutes), 0) FROM sessions WHERE wallet = '${lower(a.address)}'`));
    assert.equal(balance(a.address), 30 - billed);
    assert.equal(positive(a.address), '1');
});

test('an authorization settled on chain before the gate saw it: refused, never credited', async () => {
    const { account: a } = await freshPayer();
    const eth = await s.ethers();
    // the SDK signs the authorization; the header is kept, not sent
    const sent = [];
    const capture = agent(a, sent, req => {
        if (req.headers.get('PAYMENT-SIGNATURE')) throw new Error('kept, not sent');
        return fetch(req);
    });
    const body = JSON.stringify({ profile: 'small', minutes: 30, ssh_public_key: keygen('k-pre').pub });
    await assert.rejects(capture(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json' }, body }));
    assert.equal(sent.length, 1);
    const p = JSON.parse(Buffer.from(sent[0], 'base64').toString());
    const au = p.payload.authorization;

    // someone settles it directly (here: a demo wallet, with ethers)
    const { Contract } = await import('ethers');
    const t = new Contract(usdc.address, USDC_ABI, eth.wallets[1]);
    await (await t.transferWithAuthorization(au.from, au.to, au.value, au.validAfter, au.validBefore,
                                             au.nonce, p.payload.signature)).wait();
    const paid = await balanceOf(a.address);

    // then presented to the gate: refused, nothing credited, nothing charged again
    const res = await fetch(s.url('/api/x402/session'), { method: 'POST',
        headers: { 'content-type': 'application/json', 'PAYMENT-SIGNATURE': sent[0] }, body });
    const text = await res.text();
    assert.equal(res.status, 402, text);
    const h = res.headers.get('PAYMENT-RESPONSE');
    assert.equal(decodePaymentResponseHeader(h).errorReason, 'invalid_exact_evm_nonce_already_used');
    assert.equal(ledger(a.address), '');
    assert.equal(balance(a.address), 0);
    assert.equal(live(a.address), '0');
    assert.equal(s.sql(`SELECT state || ' ' || error_reason FROM x402_payments WHERE payer = '${lower(a.address)}'`),
                 'failed invalid_exact_evm_nonce_already_used');
    assert.equal(await balanceOf(a.address), paid);
});

test('the indexer credits the transfer first (the facilitator answers late): the settlement credits nothing more', async () => {
    const g = new Facilitator({ rpcUrl: s.chainUrl, chainId: 1337, privateKey: FACILITATOR_KEY });
    g.port = await freePort();
    // the first /settle settles on chain, then answers settlement_pending until released
    const settle = g.x402.settle.bind(g.x402);
    let held = null, released = false;
    g.x402.settle = async (payload, req) => {
        held ??= await settle(payload, req);
        return released ? held
            : { success: false, errorReason: 'settlement_pending', transaction: held.transaction, network: held.network };
    };
    await g.start();
    const lines = [...BASE.filter(l => !l.startsWith('x402_settle') && !l.startsWith('x402_facilitator_url')),
        'x402_settle facilitator', `x402_facilitator_url ${g.url}`, 'job_max_attempts 1000',
        'deposit_poll_interval 200ms'];
    await restartWorker(lines);
    try {
        const { account: a } = await freshPayer();
        const paying = pay(a, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-late').pub });
        await waitFor(() => held?.transaction, 'the facilitator settled on chain');
        const tx = held.transaction.toLowerCase();
        await s.mine(DEPOSIT_CONFIRMATIONS + 2);
        await waitFor(() => /^credited:[1-9]/.test(depositState(tx)), 'the indexer credited the transfer', 60000);
        const dep = ledger(a.address);
        assert.match(dep, /^\d+:deposit:1337:/);
        released = true;

        const r = await paying;
        assert.ok(r.status === 200 || r.status === 202, JSON.stringify(r.body));
        const nonce = r.body.payment_id;
        await waitFor(() => s.sql(`SELECT state FROM x402_payments WHERE nonce = '${nonce}'`) === 'settled',
                      'the payment settled');
        assert.equal(ledger(a.address), dep);
        assert.equal(s.sql(`SELECT x.ledger_id = d.ledger_id FROM x402_payments x, deposits d
                           WHERE x.nonce = '${nonce}' AND d.tx_hash = '${tx}'`), 't');
        assert.equal(positive(a.address), '1');
        if (r.body.auth_token) {
            await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.body.auth_token}` } });
        }
        await waitFor(() => live(a.address) === '0' || !r.body.auth_token, 'the session ended');
    } finally {
        await g.stop();
    }
});

test('a reorg mines the settlement again in another block, behind another transaction: still one credit', async () => {
    const lines = BASE.filter(l => !l.startsWith('x402_settle') && !l.startsWith('x402_facilitator_url')
                                   && !l.startsWith('job_max_attempts') && !l.startsWith('deposit_poll_interval'));
    await restartWorker([...lines, 'deposit_poll_interval 200ms']);
    const { account: a } = await freshPayer();
    const { Contract } = await import('ethers');
    const eth = await s.ethers();
    const snap = await s.snapshot();
    const r = await pay(a, { profile: 'small', minutes: 30, ssh_public_key: keygen('k-reorg').pub });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const tx = r.settle.transaction;
    const key = `30:x402:${r.body.payment_id}:${lower(a.address)}`;
    assert.match(ledger(a.address), new RegExp(`^30:x402:${r.body.payment_id}`));
    const raw = '0x' + s.sql(`SELECT encode(raw_tx, 'hex') FROM x402_payments WHERE nonce = '${r.body.payment_id}'`);
    const blockBefore = (await s.rpc('eth_getTransactionReceipt', [tx])).blockHash;

    // the block is gone; the same transaction is mined again, after another one
    await s.revert(snap);
    await s.rpc('miner_stop', []);
    try {
        const t = new Contract(usdc.address, USDC_ABI, eth.wallets[1]);
        await t.transfer(a.address, 1n, { maxPriorityFeePerGas: 10n ** 11n, maxFeePerGas: 10n ** 12n });
        await s.rpc('eth_sendRawTransaction', [raw]);
        await s.rpc('evm_mine', []);
    } finally {
        await s.rpc('miner_start', []);
    }
    // moved: another block, behind the other transaction (ganache numbers a receipt's logs
    // from 0 in each transaction, so the block's log index is not seen to move here)
    const moved = await s.rpc('eth_getTransactionReceipt', [tx]);
    assert.equal(moved.transactionIndex, '0x1');
    assert.notEqual(moved.blockHash, blockBefore);

    await s.mine(DEPOSIT_CONFIRMATIONS + 2);
    await waitFor(() => depositState(tx).split(',').some(d => d.startsWith('credited:')),
                  'the moved deposit handled', 60000);
    assert.equal(positive(a.address), '1');
    assert.ok(depositState(tx).split(',').includes('credited:0:already_credited'), depositState(tx));
    assert.equal(ledger(a.address), key);
    const rel = await s.json('/api/release', { method: 'POST', headers: { authorization: `Bearer ${r.body.auth_token}` } });
    assert.equal(rel.status, 202);
    await waitFor(() => live(a.address) === '0', 'the session ended');
});
