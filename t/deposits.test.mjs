// Deposits on the local chain: POST /api/auth/verify-deposit, the worker's
// checks, the indexer, crediting at N confirmations (3 here) exactly once,
// rejections with a reason, a reorg, the node down while indexing.  Real
// ganache, worker, Postgres, Redis and nginx; transactions made by ethers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Contract, ContractFactory, Transaction, parseEther, parseUnits } from 'ethers';
import { Stack, BUILD, waitFor } from './lib/stack.mjs';

const N = 3;
const PRICE = { USDC: 60n, AXGT: 100n, ETH: 200000n };      // deploy.mjs
const DECIMALS = { USDC: 6n, AXGT: 18n, ETH: 18n };
const TIERS = [[100n, 5n], [1000n, 10n], [10000n, 15n], [100000n, 25n]];
const ERC20 = ['function transfer(address,uint256) returns (bool)',
    'function balanceOf(address) view returns (uint256)'];

let s, eth, wallets, alice, bob, token, aliceToken, bobToken;

before(async () => {
    s = await new Stack({
        chain: true,
        workerConf: `deposit_confirmations ${N}\ndeposit_poll_interval 100ms`,
    }).start();
    eth = await s.ethers();
    wallets = eth.wallets;
    [alice, bob] = wallets;
    aliceToken = (await s.signIn(alice)).token;
    bobToken = (await s.signIn(bob)).token;
    token = sym => new Contract(s.chain.tokens[sym].address, ERC20, alice);
});

after(async () => { await s?.stop(); });

const auth = t => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });

async function submit(hash, t = aliceToken) {
    return s.json('/api/auth/verify-deposit', {
        method: 'POST', headers: auth(t), body: JSON.stringify({ tx_hash: hash }),
    });
}

async function deposits(t = aliceToken) {
    const r = await s.json('/api/deposits', { headers: auth(t) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.deposits;
}

async function entry(hash, pred, t = aliceToken, what = '') {
    return waitFor(async () => {
        const e = (await deposits(t)).find(d => d.tx_hash === hash.toLowerCase()
            && (d.log_index !== undefined || d.status === 'rejected'));
        return e && pred(e) ? e : null;
    }, `deposit ${hash} ${what}`);
}

// The worker's passes at the chain's head now, its confirmer's included,
// done: its cursor at head - N + 1 (where a pass at that head leaves it,
// the confirmer running after the indexer in the same pass), then one
// block more and the cursor past that too (a later pass: one at a time).
// What was not credited by then is not credited at that head.
async function passed() {
    for (let k = 0; k < 2; k++) {
        if (k) await s.mine(1);
        const want = await s.blockNumber() - N + 1;
        await waitFor(() => Number(s.psql('SELECT block FROM deposit_cursor').out) >= want,
            `the worker's pass at block ${want + N - 1}`);
    }
}

function ledgerRows(hash) {
    const r = s.psql(`SELECT count(*), coalesce(sum(delta_minutes), 0) FROM credit_ledger
                      WHERE kind = 'deposit' AND reference = '${hash.toLowerCase()}'`);
    assert.ok(r.ok, r.err);
    const [n, sum] = r.out.split('|').map(Number);
    return { n, sum };
}

async function tierOf(addr) {
    const bal = await new Contract(s.chain.tokens.AXGT.address, ERC20, eth.provider).balanceOf(addr);
    let pct = 0n;
    for (const [min, p] of TIERS) if (bal >= min * 10n ** 18n) pct = p;
    return pct;
}

function minutes(sym, amount, pct) {
    return (amount * PRICE[sym] * 100n) / (10n ** DECIMALS[sym] * (100n - pct));
}

async function balance(t = aliceToken) {
    return (await s.json('/api/me', { headers: auth(t) })).body.balance_minutes;
}

async function pay(sym, amount, from = alice) {
    const tx = sym === 'ETH'
        ? await from.sendTransaction({ to: s.chain.revenue_wallet, value: amount })
        : await token(sym).connect(from).transfer(s.chain.revenue_wallet, amount);
    await tx.wait();
    return tx.hash;
}

for (const [sym, amount] of [['ETH', parseEther('0.01')], ['USDC', parseUnits('2.5', 6)],
    ['AXGT', parseUnits('3', 18)]]) {
    test(`${sym}: confirming before ${N} confirmations, credited once at ${N}, twice submitted`, async () => {
        const before = await balance();
        const hash = await pay(sym, amount);

        const r = await submit(hash);
        assert.equal(r.status, 202);
        assert.equal(r.body.status, 'submitted');
        assert.equal(r.body.tx_hash, hash.toLowerCase());

        const e = await entry(hash, d => d.status === 'confirming', aliceToken, 'confirming');
        assert.ok(e.confirmations < N, JSON.stringify(e));
        assert.equal(e.required, N);
        assert.equal(e.symbol, sym);
        assert.equal(e.amount, amount.toString());
        assert.equal(ledgerRows(hash).n, 0);

        await s.mine(N);
        const c = await entry(hash, d => d.status === 'credited', aliceToken, 'credited');
        const pct = await tierOf(alice.address);
        const want = minutes(sym, amount, pct);
        assert.equal(BigInt(c.minutes), want);
        assert.equal(BigInt(c.discount_pct), pct);
        assert.deepEqual(ledgerRows(hash), { n: 1, sum: Number(want) });
        await waitFor(async () => (await balance()) === before + Number(want), 'the balance');

        // submitted again: still once
        assert.equal((await submit(hash)).status, 202);
        await waitFor(async () => !(await deposits()).some(d => d.tx_hash === hash.toLowerCase()
            && d.status === 'submitted'), 'the second submission handled');
        await s.mine(N);
        assert.deepEqual(ledgerRows(hash), { n: 1, sum: Number(want) });
        assert.equal(await balance(), before + Number(want));
    });
}

test('the indexer credits a token deposit nobody submitted; submitted after: still once', async () => {
    const amount = parseUnits('1', 6);
    const hash = await pay('USDC', amount, bob);
    await entry(hash, d => d.status === 'confirming', bobToken, 'found by the indexer');
    await s.mine(N);
    const c = await entry(hash, d => d.status === 'credited', bobToken, 'credited');
    assert.equal(BigInt(c.minutes), minutes('USDC', amount, await tierOf(bob.address)));
    assert.equal(ledgerRows(hash).n, 1);

    assert.equal((await submit(hash, bobToken)).status, 202);
    await waitFor(async () => !(await deposits(bobToken)).some(d => d.tx_hash === hash.toLowerCase()
        && d.status === 'submitted'), 'the submission handled');
    assert.equal(ledgerRows(hash).n, 1);
});

test('a deposit already N deep when the indexer finds it: credited by that scan, once, its log\'s index in its tx claimed', async () => {
    const amount = parseUnits('1.5', 6);
    await s.stack('stop', 'worker');
    const hash = await pay('USDC', amount, bob);
    await s.mine(N);
    await s.stack('start', 'worker');
    const c = await entry(hash, d => d.status === 'credited', bobToken, 'credited');
    assert.equal(BigInt(c.minutes), minutes('USDC', amount, await tierOf(bob.address)));
    assert.equal(ledgerRows(hash).n, 1);
    // the chain event claimed: the Transfer is the transaction's first log
    const ev = s.psql(`SELECT log_index, credited_as FROM chain_credits
                       WHERE tx_hash = '${hash.toLowerCase()}'`);
    assert.equal(ev.out, `0|deposit:1337:${hash.toLowerCase()}:${c.log_index}`);

    assert.equal((await submit(hash, bobToken)).status, 202);
    await waitFor(async () => !(await deposits(bobToken)).some(d => d.tx_hash === hash.toLowerCase()
        && d.status === 'submitted'), 'the submission handled');
    await s.mine(N);
    assert.equal(ledgerRows(hash).n, 1);
});

test('transactions of two Transfers, N deep when the indexer finds them: each deposit credited at its index in its transaction', async () => {
    // Multicall3 pays: two USDC transfers in one transaction, its own logs
    const usdc = token('USDC');
    const mc = new Contract(s.chain.multicall3, ['function aggregate3((address target, '
        + 'bool allowFailure, bytes callData)[] calls) payable returns ((bool, bytes)[])'], alice);
    await (await usdc.transfer(s.chain.multicall3, parseUnits('10', 6))).wait();
    const send = async calls => {
        const tx = await mc.aggregate3(calls.map(([to, amount]) => ({
            target: s.chain.tokens.USDC.address, allowFailure: false,
            callData: usdc.interface.encodeFunctionData('transfer', [to, amount]),
        })));
        await tx.wait();
        return tx.hash.toLowerCase();
    };
    const rev = s.chain.revenue_wallet;
    await s.stack('stop', 'worker');
    // the block's first log is a transfer to bob: the indexer's logs do
    // not hold it, the block's logs are read again for the index
    const mixed = await send([[bob.address, 1000n], [rev, parseUnits('1', 6)]]);
    // both to the revenue wallet: the indexer's logs are the block's own
    const both = await send([[rev, parseUnits('2', 6)], [rev, parseUnits('3', 6)]]);
    await s.mine(N);
    await s.stack('start', 'worker');
    const events = () => s.psql(`SELECT tx_hash, log_index, credited_as FROM chain_credits
                                 WHERE tx_hash IN ('${mixed}', '${both}')
                                 ORDER BY tx_hash = '${both}', log_index`).out;
    await waitFor(() => events().split('\n').length === 3, 'three deposits credited');
    assert.deepEqual(events().split('\n'), [
        `${mixed}|1|deposit:1337:${mixed}:1`,
        `${both}|0|deposit:1337:${both}:0`,
        `${both}|1|deposit:1337:${both}:1`,
    ]);
    const r = s.psql(`SELECT reference, delta_minutes FROM credit_ledger WHERE kind = 'deposit'
                      AND wallet = '${s.chain.multicall3.toLowerCase()}' ORDER BY id`);
    assert.deepEqual(r.out.split('\n'), [
        `${mixed}|${minutes('USDC', parseUnits('1', 6), 0n)}`,
        `${both}|${minutes('USDC', parseUnits('2', 6), 0n)}`,
        `${both}|${minutes('USDC', parseUnits('3', 6), 0n)}`,
    ]);
});

test('rejected with a reason: another address, reverted, unaccepted token, someone else\'s, unknown', async () => {
    // to another address
    const other = await alice.sendTransaction({ to: wallets[2].address, value: parseEther('0.01') });
    await other.wait();

    // reverted: more USDC than alice has, with a gas limit so that it is mined
    const big = await token('USDC').transfer(s.chain.revenue_wallet, parseUnits('1000000000', 6),
        { gasLimit: 100000 });
    await big.wait().catch(() => {});
    const receipt = await eth.provider.getTransactionReceipt(big.hash);
    assert.equal(receipt.status, 0);

    // a token that is not accepted
    const art = JSON.parse(readFileSync(join(BUILD, 'chain/TestUSDC.json'), 'utf8'));
    const fake = await new ContractFactory(art.abi, art.bytecode, alice).deploy();
    await fake.waitForDeployment();
    await (await fake.mint(alice.address, 1000000n)).wait();
    const fakeTx = await fake.transfer(s.chain.revenue_wallet, 1000n);
    await fakeTx.wait();

    // bob's deposit, submitted by alice
    const bobs = await pay('USDC', parseUnits('1', 6), bob);

    const unknown = '0x' + 'ab'.repeat(32);

    for (const [hash, reason] of [[other.hash, 'not_a_deposit'], [big.hash, 'tx_failed'],
        [fakeTx.hash, 'token_not_accepted'], [bobs, 'not_your_deposit'], [unknown, 'tx_not_found']]) {
        assert.equal((await submit(hash)).status, 202);
        const e = await entry(hash, d => d.status === 'rejected', aliceToken, reason);
        assert.equal(e.reason, reason, JSON.stringify(e));
        assert.equal(ledgerRows(hash).n, 0);
    }

    // bob's own deposit is still his, credited to him
    await s.mine(N);
    await entry(bobs, d => d.status === 'credited', bobToken, 'bob credited');
    const who = s.psql(`SELECT wallet FROM credit_ledger WHERE reference = '${bobs.toLowerCase()}'`);
    assert.equal(who.out, bob.address.toLowerCase());
});

test('a malformed hash is 400 bad_tx_hash; without a token 401', async () => {
    for (const bad of ['0x1234', 'ab'.repeat(33), '0x' + 'zz'.repeat(32), 42, null]) {
        const r = await submit(bad);
        assert.equal(r.status, 400);
        assert.equal(r.body.error.code, 'bad_tx_hash');
    }
    const r = await s.json('/api/auth/verify-deposit', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tx_hash: '0x' + '00'.repeat(32) }),
    });
    assert.equal(r.status, 401);
    assert.equal((await s.json('/api/deposits')).status, 401);
});

// a payment, submitted, then a reorg that takes its block before it was
// confirmed: its hash, once the deposit is orphaned
async function orphaned(sym, amount) {
    const snap = await s.snapshot();
    const hash = await pay(sym, amount);
    assert.equal((await submit(hash)).status, 202);
    await entry(hash, d => d.status === 'confirming', aliceToken, 'confirming');
    // the submission's own check done too (the indexer may have shown the
    // deposit first): run after the reorg, it would find no transaction
    // and publish a refusal (tx_not_found) beside the orphaned deposit
    await waitFor(() => s.jobsDone(), 'the submission checked');

    await s.revert(snap);
    await s.mine(N + 2);

    await entry(hash, d => d.status === 'orphaned', aliceToken, 'orphaned');
    return hash;
}

test('a reorg before confirmation: the deposit is orphaned, never credited', async () => {
    const hash = await orphaned('USDC', parseUnits('5', 6));
    await s.mine(N);
    await passed();
    assert.equal(ledgerRows(hash).n, 0);
    const st = s.psql(`SELECT state FROM deposits WHERE tx_hash = '${hash.toLowerCase()}'`);
    assert.equal(st.out, 'orphaned');
});

test('an ETH deposit whose block a reorg dropped, its transaction pending again: followed into its new block, credited', async () => {
    const snap = await s.snapshot();
    const tx = await alice.sendTransaction({ to: s.chain.revenue_wallet, value: parseEther('0.002') });
    await tx.wait();
    const hash = tx.hash.toLowerCase();
    assert.equal((await submit(hash)).status, 202);
    await entry(hash, d => d.status === 'confirming', aliceToken, 'confirming');
    await waitFor(() => s.jobsDone(), 'the submission checked');
    // the block gone, the transaction back in the pool, nothing mined (the
    // worker stopped meanwhile: it looks only once the pool has it)
    await s.stack('stop', 'worker');
    await s.rpc('miner_stop');
    try {
        await s.revert(snap);
        await s.rpc('eth_sendRawTransaction', [Transaction.from(tx).serialized]);
        await s.stack('start', 'worker');
        await waitFor(() => s.log('worker.log').includes(`${hash}:-1: its block left the chain, its transaction is pending again`),
                      'the confirmer finding it pending');
        assert.equal(s.psql(`SELECT state FROM deposits WHERE tx_hash = '${hash}'`).out, 'confirming');
    } finally {
        await s.rpc('miner_start');
    }
    await s.mine(N);
    await entry(hash, d => d.status === 'credited', aliceToken, 'credited in its new block');
    assert.equal(ledgerRows(hash).n, 1);
});

test('a token deposit orphaned by a reorg, its transaction mined again: found again, credited, no reorg reason left', async () => {
    const snap = await s.snapshot();
    const tx = await token('USDC').transfer(s.chain.revenue_wallet, parseUnits('3', 6));
    await tx.wait();
    const hash = tx.hash.toLowerCase();
    await entry(hash, d => d.status === 'confirming', aliceToken, 'confirming');
    await s.revert(snap);
    await s.mine(N + 2);
    const orphan = await entry(hash, d => d.status === 'orphaned', aliceToken, 'orphaned');
    assert.match(orphan.reason, /reorg/);
    await s.rpc('eth_sendRawTransaction', [Transaction.from(tx).serialized]);
    await s.mine(N);
    const e = await entry(hash, d => d.status === 'credited', aliceToken, 'credited once mined again');
    assert.equal(e.reason, undefined, JSON.stringify(e));
    assert.equal(s.psql(`SELECT coalesce(reject_reason, '-') FROM deposits WHERE tx_hash = '${hash}'`).out, '-');
    assert.equal(ledgerRows(hash).n, 1);
});

test('a submitted transaction still pending at the last attempt: rejected tx_pending, not left submitted; submitted again once mined, credited', async () => {
    const conf = s.env.AXON_WORKER_CONF;
    await s.rpc('miner_stop');
    let hash;
    try {
        s.env.AXON_WORKER_CONF = `${conf}\njob_max_attempts 2\njob_retry_min 100ms\njob_retry_max 200ms\n`;
        await s.stack('stop', 'worker');
        await s.stack('start', 'worker');
        const tx = await alice.sendTransaction({ to: s.chain.revenue_wallet, value: parseEther('0.003') });
        hash = tx.hash.toLowerCase();
        assert.equal((await submit(hash)).status, 202);
        const e = await entry(hash, d => d.status === 'rejected', aliceToken, 'rejected while pending');
        assert.equal(e.reason, 'tx_pending');
        assert.match(e.message, /submit its hash again once it is mined/);
    } finally {
        await s.rpc('miner_start');
        s.env.AXON_WORKER_CONF = conf;
        await s.stack('stop', 'worker');
        await s.stack('start', 'worker');
    }
    await s.mine(N);
    assert.equal((await submit(hash)).status, 202);
    await entry(hash, d => d.status === 'credited', aliceToken, 'credited once mined');
    assert.equal(ledgerRows(hash).n, 1);
});

test('admin deposit.credit of an ETH deposit a reorg took off the chain: refused, nothing credited', async () => {
    const hash = await orphaned('ETH', parseEther('0.001'));
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'deposit.credit', 'tx_hash', hash.toLowerCase(),
        'log_index', '-1', 'reason', 'ticket 11: node lagged');
    await waitFor(() => s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+')
        .includes(`the receipt of ${hash.toLowerCase()}: not on the chain`), 'the credit refused');
    assert.equal(ledgerRows(hash).n, 0);
    assert.equal(s.psql(`SELECT state FROM deposits WHERE tx_hash = '${hash.toLowerCase()}'`).out, 'orphaned');
});

test('the node stopped during indexing: caught up when it returns, nothing lost', async () => {
    const amount = parseUnits('2', 6);
    const hashes = [];
    for (let i = 0; i < 3; i++) hashes.push(await pay('USDC', amount, bob));
    const down = () => (s.log('worker.log').match(/retrying this URL/g) ?? []).length;
    const before = down();
    await s.stopChain();
    await waitFor(() => down() > before, 'the worker finding the node down');
    await s.startChain();
    await s.mine(N);
    for (const h of hashes) {
        await entry(h, d => d.status === 'credited', bobToken, 'credited after the outage');
        assert.equal(ledgerRows(h).n, 1);
    }
});

test('admin: deposit.reject and deposit.credit by hand, audited; deposit.rescan', async () => {
    const h1 = await pay('USDC', parseUnits('1', 6));
    const h2 = await pay('USDC', parseUnits('1', 6));
    await entry(h1, d => d.status === 'confirming', aliceToken, 'h1 confirming');
    await entry(h2, d => d.status === 'confirming', aliceToken, 'h2 confirming');
    const li = (await deposits()).find(d => d.tx_hash === h1.toLowerCase()).log_index;
    const li2 = (await deposits()).find(d => d.tx_hash === h2.toLowerCase()).log_index;

    // a reason with what JSON must escape, shown to the payer as it was given
    const reason = 'ticket "9" \\ a\tb \u00e9';
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'deposit.reject', 'tx_hash', h1.toLowerCase(),
        'log_index', String(li), 'reason', reason);
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'deposit.credit', 'tx_hash', h2.toLowerCase(),
        'log_index', String(li2), 'reason', 'ticket 10');
    const rejected = await entry(h1, d => d.status === 'rejected', aliceToken, 'rejected by hand');
    assert.equal(rejected.reason, reason);
    await entry(h2, d => d.status === 'credited', aliceToken, 'credited by hand');
    await s.mine(N);
    await passed();
    assert.equal(ledgerRows(h1).n, 0);
    assert.equal(ledgerRows(h2).n, 1);
    const audit = s.psql(`SELECT action, actor FROM audit_log WHERE action LIKE 'deposit.%' ORDER BY id`);
    assert.match(audit.out, /deposit\.reject\|admin/);
    assert.match(audit.out, /deposit\.credit\|admin/);

    // forward: refused, the cursor unmoved (the blocks skipped would never be scanned)
    const cursor = s.psql('SELECT block FROM deposit_cursor').out;
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'deposit.rescan', 'from', '2000000000');
    await waitFor(() => /deposit\.rescan[\s\S]*refused: from 2000000000 is past the indexer's cursor/
        .test(s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+')), 'the forward rescan refused');
    assert.ok(Number(s.psql('SELECT block FROM deposit_cursor').out) >= Number(cursor));
    assert.ok(Number(s.psql('SELECT block FROM deposit_cursor').out) < 2000000000);

    s.redis('XADD', 'axon:jobs', '*', 'kind', 'deposit.rescan', 'from', '0');
    await waitFor(() => s.psql('SELECT block FROM deposit_cursor').out !== '' &&
        Number(s.psql('SELECT block FROM deposit_cursor').out) > 0, 'the rescan done');
    assert.equal(ledgerRows(h2).n, 1);
});

test('GET /api/quote: the price in each token with the wallet\'s tier, an expiry', async () => {
    s.redis('SET', 'axon:profiles', JSON.stringify({ profiles: [{ name: 'small', gpus: 2, price: 3 }] }));
    const q = () => s.json('/api/quote?profile=small&minutes=90', { headers: auth(bobToken) });

    // the first quote asks the worker for the tier (deposit.tier)
    await waitFor(async () => (await q()).body.tier_known, 'the tier known');
    const r = await q();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const pct = await tierOf(bob.address);
    assert.equal(BigInt(r.body.discount_pct), pct);
    assert.equal(r.body.credit_minutes, 90 * 2 * 3);
    assert.equal(r.body.pay_to.toLowerCase(), s.chain.revenue_wallet.toLowerCase());
    assert.ok(Date.parse(r.body.expires_at) > Date.now());
    const need = 540n;
    for (const sym of ['USDC', 'AXGT', 'ETH']) {
        const p = r.body.prices.find(x => x.symbol === sym);
        assert.ok(p, sym);
        const den = PRICE[sym] * 100n;
        const want = (need * 10n ** DECIMALS[sym] * (100n - pct) + den - 1n) / den;
        assert.equal(BigInt(p.amount), want, sym);
        // paying the quote buys at least the minutes
        assert.ok(minutes(sym, BigInt(p.amount), pct) >= need);
    }

    assert.equal((await s.json('/api/quote?profile=nope&minutes=1', { headers: auth(bobToken) })).body.error.code,
        'unknown_profile');
    assert.equal((await s.json('/api/quote?profile=small&minutes=0', { headers: auth(bobToken) })).status, 400);
    assert.equal((await s.json('/api/quote?profile=small&minutes=1')).status, 401);
});

// Last: it restarts the worker on a node of its own (a proxy that goes down)
test('a range read ahead while its newest blocks were young: a reorg of them meanwhile is scanned, not passed over', async () => {
    // a JSON-RPC proxy in front of the chain that goes down right after it
    // answered the read-ahead (the range after the one being credited), so
    // that the range waits for the next scan while the chain reorgs
    let down = false, aheadFrom = null, sawAhead = false;
    const proxy = createServer((req, res) => {
        let body = '';
        req.on('data', c => { body += c; });
        req.on('end', () => {
            if (down) { req.socket.destroy(); return; }
            let j;
            try { j = JSON.parse(body); } catch { /* passed on as it is */ }
            const ahead = aheadFrom !== null && [j].flat().some(c => c?.method === 'eth_getLogs'
                && Number(c.params?.[0]?.fromBlock) === aheadFrom && c.params[0].topics);
            const up = httpRequest(s.chainUrl, { method: 'POST', agent: false,
                                                 headers: { 'content-type': 'application/json' } }, r => {
                let out = '';
                r.on('data', c => { out += c; });
                r.on('end', () => {
                    res.writeHead(r.statusCode, { 'content-type': 'application/json' });
                    res.end(out);
                    if (ahead && !sawAhead) { sawAhead = true; down = true; }
                });
            });
            up.on('error', () => req.socket.destroy());
            up.end(body);
        });
    });
    await new Promise(ok => proxy.listen(0, '127.0.0.1', ok));
    const conf = s.env.AXON_WORKER_CONF;
    try {
        await passed();
        await s.stack('stop', 'worker');
        const cursor = Number(s.psql('SELECT block FROM deposit_cursor').out);
        // the first range (cursor + 1 .. b1) holds a deposit, N deep at H =
        // b1 + 2: credited, the cursor moves to b1, b1 + 1 .. H read ahead
        const d1 = await pay('USDC', parseUnits('1', 6));
        const b1 = (await eth.provider.getTransactionReceipt(d1)).blockNumber;
        while (await s.blockNumber() < b1 + 1) await s.mine(1);
        const snap = await s.snapshot();
        await s.mine(1);
        aheadFrom = b1 + 1;
        s.env.AXON_WORKER_CONF = `${conf}\ndeposit_index_range ${b1 - cursor}\n` +
            `eth_rpc_url http://127.0.0.1:${proxy.address().port}\n`;
        await s.stack('start', 'worker');
        await waitFor(() => sawAhead, 'the range read ahead', 30000);
        // the young block H replaced, by one with bob's deposit, N deep
        await s.revert(snap);
        const d2 = await pay('USDC', parseUnits('2', 6), bob);
        await s.mine(N);
        down = false;
        await entry(d1, d => d.status === 'credited', aliceToken, 'the first range credited');
        await entry(d2, d => d.status === 'credited', bobToken, 'the deposit of the new block credited');
        assert.equal(ledgerRows(d2).n, 1);
    } finally {
        down = false;
        s.env.AXON_WORKER_CONF = conf;
        await s.stack('stop', 'worker');
        await s.stack('start', 'worker');
        proxy.close();
    }
});
