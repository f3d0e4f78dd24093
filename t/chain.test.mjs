// The local chain in the stack (ganache, the test tokens, chain.json) and
// the worker's JSON-RPC client (axon-worker/rpc.c, through build/axon-rpc)
// against it: every answer compared with what ethers sees on the same
// node; failover, timeouts, JSON-RPC errors, malformed answers, batches,
// the wrong chain, a node that goes down and comes back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { Contract, Signature, TypedDataEncoder, hexlify, id as keccakId, parseUnits, randomBytes } from 'ethers';
import { Stack, BUILD, freePort, waitFor } from './lib/stack.mjs';

const ERC20 = [
    'function decimals() view returns (uint8)',
    'function symbol() view returns (string)',
    'function balanceOf(address) view returns (uint256)',
    'function transfer(address to, uint256 amount) returns (bool)',
];
const EIP3009 = [
    'function name() view returns (string)',
    'function version() view returns (string)',
    'function DOMAIN_SEPARATOR() view returns (bytes32)',
    'function balanceOf(address) view returns (uint256)',
    'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
    'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
    'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
    'function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
    'function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
    'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
];
const AUTH_FIELDS = [
    { name: 'from', type: 'address' }, { name: 'to', type: 'address' }, { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' }, { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
];
const TWA = { TransferWithAuthorization: AUTH_FIELDS };
const RWA = { ReceiveWithAuthorization: AUTH_FIELDS };
const CANCEL = { CancelAuthorization: [{ name: 'authorizer', type: 'address' }, { name: 'nonce', type: 'bytes32' }] };
const TRANSFER = keccakId('Transfer(address,address,uint256)');
const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

let s, eth;

before(async () => {
    s = await new Stack({ chain: true }).start();
    eth = await s.ethers();
});

after(async () => { await s?.stop(); });

// build/axon-rpc ARGS: {code, out (parsed JSON lines), stderr, ms}
function axonRpc(args, { urls = s.chainUrl, chainId = 1337 } = {}) {
    const argv = ['-u', urls, '-i', String(chainId), ...args];
    return new Promise((ok) => {
        const t0 = Date.now();
        const p = spawn(join(BUILD, 'axon-rpc'), argv,
            { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
        let out = '', err = '';
        p.stdout.on('data', d => { out += d; });
        p.stderr.on('data', d => { err += d; });
        p.on('close', (code) => {
            assert.doesNotMatch(err, SANITIZER, err);
            const lines = out.trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
            ok({ code, out: lines.length === 1 ? lines[0] : lines, lines, stderr: err, ms: Date.now() - t0 });
        });
    });
}

const lower = a => a.toLowerCase();

test('the chain is up: chain id 1337, chain.json, the worker connected', async () => {
    assert.equal(s.chain.chain_id, 1337);
    assert.equal(s.chain.rpc_url, s.chainUrl);
    assert.equal(Number(await s.rpc('eth_chainId')), 1337);
    assert.equal(s.chain.revenue_wallet, '0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0');
    assert.equal(s.chain.demo_wallets.length, 3);
    // the keys deploy.mjs hard-codes are those of the addresses
    s.chain.demo_wallets.forEach((w, i) => assert.equal(eth.wallets[i].address, w.address));
    assert.ok(s.chain.deployed_block >= 1);
    // Multicall3 where tools look for it, answering tryAggregate
    assert.equal(s.chain.multicall3, '0xcA11bde05977b3631167028862bE2a173976CA11');
    const mc = new Contract(s.chain.multicall3, [
        'function tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls) returns ((bool success, bytes returnData)[])',
        'function getChainId() view returns (uint256)'], eth.provider);
    assert.equal(await mc.getChainId(), 1337n);
    const usdc = new Contract(s.chain.tokens.USDC.address, ERC20, eth.provider);
    const [[ok1, ret1], [ok2]] = await mc.tryAggregate.staticCall(false, [
        [s.chain.tokens.USDC.address, usdc.interface.encodeFunctionData('decimals')],
        [s.chain.tokens.USDC.address, '0xdeadbeef']]);
    assert.deepEqual([ok1, BigInt(ret1), ok2], [true, 6n, false]);
    await waitFor(() => /eth: chain 1337 at block \d+/.test(s.log('worker.log')), 'the worker on the chain');
});

test('the tokens are deployed with their decimals; the demo wallets are funded', async () => {
    const expect = { USDC: [6, parseUnits('10000', 6)], AXGT: [18, parseUnits('1000', 18)] };
    for (const [sym, [decimals, funded]] of Object.entries(expect)) {
        const t = s.chain.tokens[sym];
        assert.equal(t.decimals, decimals);
        const c = new Contract(t.address, ERC20, eth.provider);
        assert.equal(Number(await c.decimals()), decimals);
        assert.equal(await c.symbol(), sym);
        for (const w of s.chain.demo_wallets) {
            assert.equal(await c.balanceOf(w.address), funded, `${sym} of ${w.address}`);
            const r = await axonRpc(['balance', t.address, w.address]);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.out.balance, funded.toString());
        }
        assert.ok(await eth.provider.getBalance(s.chain.demo_wallets[0].address) > 0n);
    }
});

test('rpc.c reads blocks, transactions, receipts and logs as ethers does', async () => {
    const usdc = new Contract(s.chain.tokens.USDC.address, ERC20, eth.wallets[0]);
    const tx = await usdc.transfer(s.chain.revenue_wallet, 12_345_678n);
    const rc = await tx.wait();

    let r = await axonRpc(['chain-id']);
    assert.deepEqual(r.out, { chain_id: 1337 });

    r = await axonRpc(['block-number']);
    assert.equal(r.out.block_number, await eth.provider.getBlockNumber());

    const block = await eth.provider.getBlock(rc.blockNumber);
    r = await axonRpc(['block', String(rc.blockNumber)]);
    assert.deepEqual(r.out, { number: block.number, timestamp: block.timestamp,
        hash: block.hash, parent_hash: block.parentHash });

    r = await axonRpc(['tx', tx.hash]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.hash, tx.hash);
    assert.equal(r.out.from, lower(eth.wallets[0].address));
    assert.equal(r.out.to, lower(s.chain.tokens.USDC.address));
    assert.equal(r.out.value, '0');
    assert.equal(r.out.nonce, tx.nonce);
    assert.equal(r.out.block_number, rc.blockNumber);
    assert.equal(r.out.block_hash, rc.blockHash);

    r = await axonRpc(['receipt', tx.hash]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.status, 1);
    assert.equal(r.out.block_hash, rc.blockHash);
    assert.equal(r.out.block_number, rc.blockNumber);
    assert.equal(r.out.tx_index, rc.index);
    assert.equal(r.out.logs.length, rc.logs.length);
    const [log] = r.out.logs;
    assert.equal(log.address, lower(s.chain.tokens.USDC.address));
    assert.deepEqual(log.topics, rc.logs[0].topics);
    assert.equal(log.topics[0], TRANSFER);
    assert.equal(log.data, rc.logs[0].data);
    assert.equal(BigInt(log.data), 12_345_678n);
    assert.equal(log.log_index, rc.logs[0].index);
    assert.equal(log.removed, false);

    // eth_getLogs: both tokens, Transfer only, to the revenue wallet
    const to = '0x' + lower(s.chain.revenue_wallet).slice(2).padStart(64, '0');
    r = await axonRpc(['logs', '0', String(rc.blockNumber),
        `${s.chain.tokens.USDC.address},${s.chain.tokens.AXGT.address}`, TRANSFER, '-', to]);
    assert.equal(r.code, 0, r.stderr);
    const viaEthers = await eth.provider.getLogs({ fromBlock: 0, toBlock: rc.blockNumber,
        address: [s.chain.tokens.USDC.address, s.chain.tokens.AXGT.address],
        topics: [TRANSFER, null, to] });
    assert.equal(r.out.length, 1);
    assert.deepEqual(r.out.map(l => [l.tx_hash, l.log_index, l.data]),
        viaEthers.map(l => [l.transactionHash, l.index, l.data]));

    // scan (the deposit bench's raw line): the same blocks in ranges of 3,
    // every one read; all of the chain's Transfers, then the filter's one
    const blocks = rc.blockNumber + 1;
    const tokens = `${s.chain.tokens.USDC.address},${s.chain.tokens.AXGT.address}`;
    const all = await eth.provider.getLogs({ fromBlock: 0, toBlock: rc.blockNumber,
        address: [s.chain.tokens.USDC.address, s.chain.tokens.AXGT.address], topics: [TRANSFER] });
    assert.ok(all.length > viaEthers.length);
    r = await axonRpc(['scan', '0', String(rc.blockNumber), '3', tokens, TRANSFER]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.blocks, blocks);
    assert.equal(r.out.ranges, Math.ceil(blocks / 3));
    assert.equal(r.out.logs, all.length);
    assert.ok(Number.isInteger(r.out.us) && r.out.us > 0);
    r = await axonRpc(['scan', '0', String(rc.blockNumber), '1000', tokens, TRANSFER, '-', to]);
    assert.deepEqual([r.out.ranges, r.out.logs], [1, 1]);
    // no range, or TO before FROM: the usage, nothing read
    for (const bad of [['0', '9', '0'], ['9', '0', '3']]) {
        r = await axonRpc(['scan', ...bad, tokens]);
        assert.equal(r.code, 78);
        assert.match(r.stderr, /usage: axon-rpc/);
    }

    // an unknown transaction: not found, not an error
    r = await axonRpc(['receipt', '0x' + '11'.repeat(32)]);
    assert.equal(r.out.error, 'not_found');
});

test('batches: many receipts and blocks in one request each', async () => {
    const axgt = new Contract(s.chain.tokens.AXGT.address, ERC20, eth.wallets[1]);
    const txs = [];
    for (let i = 1; i <= 5; i++) txs.push(await axgt.transfer(s.chain.revenue_wallet, BigInt(i) * 10n ** 18n));
    const receipts = await Promise.all(txs.map(t => t.wait()));
    const unknown = '0x' + '22'.repeat(32);

    let r = await axonRpc(['receipts', ...txs.map(t => t.hash), unknown]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.length, 6);
    receipts.forEach((rc, i) => {
        assert.equal(r.out[i].tx_hash, rc.hash);
        assert.equal(r.out[i].block_hash, rc.blockHash);
        assert.equal(BigInt(r.out[i].logs[0].data), BigInt(i + 1) * 10n ** 18n);
    });
    assert.equal(r.out[5].error, 'not_found');
    assert.match(s.log('chain.log'), /eth_getTransactionReceipt/);

    const top = await eth.provider.getBlockNumber();
    r = await axonRpc(['blocks', '0', String(top + 2)]);
    assert.equal(r.out.length, top + 2);
    for (let n = 0; n <= top; n++) {
        assert.equal(r.out[n].hash, (await eth.provider.getBlock(n)).hash, `block ${n}`);
        if (n > 0) assert.equal(r.out[n].parent_hash, r.out[n - 1].hash);
    }
    assert.equal(r.out[top + 1].error, 'not_found');
});

test('a JSON-RPC error is returned as such, with its code', async () => {
    const r = await axonRpc(['call', 'eth_noSuchMethod', '[]']);
    assert.equal(r.code, 1);
    assert.equal(r.out.error, 'rpc_error');
    assert.equal(typeof r.out.code, 'number');
    assert.match(r.out.message, /eth_noSuchMethod/);
});

test('a node on another chain is refused (exit 78)', async () => {
    const r = await axonRpc(['block-number'], { chainId: 1 });
    assert.equal(r.code, 78);
    assert.equal(r.out.error, 'wrong_chain');
    assert.match(r.stderr, /\[emerg\].*is on chain 1337, not eth_chain_id 1/);
});

test('the worker: eth_rpc_url checked, hidden by --print-config; the wrong chain stops it (exit 78)', () => {
    const conf = join(s.dir, 'w-eth.conf');
    const run = (args, text) => {
        writeFileSync(conf, text);
        const r = spawnSync(join(BUILD, 'axon-worker'), ['-c', conf, ...args], { timeout: 20000 });
        return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
    };

    let r = run(['-t'], 'eth_rpc_url "http://127.0.0.1:1, ftp://x"\n');
    assert.equal(r.status, 78);
    assert.match(r.err, /w-eth\.conf:1: eth_rpc_url: "ftp:\/\/x" is not an http:\/\/ or https:\/\/ URL/);

    r = run(['--print-config'], 'eth_rpc_url https://mainnet.example/v3/SECRETKEY\n');
    assert.equal(r.status, 0, r.err);
    assert.doesNotMatch(r.out, /SECRETKEY/);
    assert.match(r.out, /^eth_rpc_url\s+"\*+"/m);

    const stackConf = readFileSync(join(s.dir, 'worker.conf'), 'utf8');
    assert.match(stackConf, new RegExp(`eth_rpc_url ${s.chainUrl}\neth_chain_id 1337`));
    r = run([], stackConf.replace('eth_chain_id 1337', 'eth_chain_id 10'));
    assert.equal(r.status, 78, r.err);
    assert.match(r.err, /\[emerg\].*eth: .* is on chain 1337, not eth_chain_id 10/);
});

test('SIGHUP: without eth_rpc_url the worker runs on, deposits off; with it, back on the chain', async () => {
    const file = join(s.dir, 'worker.conf');
    const conf = readFileSync(file, 'utf8');
    const hup = async (text, expect, what) => {
        const before = s.log('worker.log').length;
        writeFileSync(file, text);
        process.kill(s.pid('worker'), 'SIGHUP');
        await waitFor(() => expect.test(s.log('worker.log').slice(before)), what);
    };
    try {
        // (x402_settle self needs a chain: the stack's goes with it)
        await hup(conf.replace(/^eth_rpc_url .*\n/m, '').replace(/^x402_settle .*\n/m, ''),
            /eth: no eth_rpc_url: deposits off/, 'deposits off');
        assert.equal((await s.json('/api/health')).status, 200);
        await hup(conf.replace(/^eth_chain_id .*$/m, '$&\neth_rpc_timeout 2s'),
            /eth: settings changed, starting over[^]*eth: chain 1337 at block \d+/, 'back on the chain');
    } finally {
        writeFileSync(file, conf);
    }
});

test('failover: a dead first URL, then the second; the dead one is skipped while its backoff runs', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const r = await axonRpc(['-r', '3', 'block-number'], { urls: `${dead},${s.chainUrl}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 3);
    assert.ok(r.lines.every(l => l.block_number >= 1));
    assert.equal(r.stderr.match(/Couldn't connect/g).length, 1, r.stderr);
    assert.match(r.stderr, /failing over/);

    const down = await axonRpc(['block-number'], { urls: dead });
    assert.equal(down.code, 1);
    assert.equal(down.out.error, 'transport');
});

// An HTTP server whose answer to each JSON-RPC request is answer(request);
// eth_chainId is answered right unless answer handles it.
async function fakeNode(answer) {
    const srv = createHttpServer((req, res) => {
        let body = '';
        req.on('data', d => { body += d; });
        req.on('end', () => {
            const rq = JSON.parse(body);
            let a = answer(rq, res);
            if (a === undefined && rq.method === 'eth_chainId') {
                a = { jsonrpc: '2.0', id: rq.id, result: '0x539' };
            }
            if (a === null) return;     // answer() wrote the response
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(typeof a === 'string' ? a : JSON.stringify(a));
        });
    });
    await new Promise(ok => srv.listen(0, '127.0.0.1', ok));
    return { url: `http://127.0.0.1:${srv.address().port}`, close: () => srv.close() };
}

test('malformed answers are errors of their own, and fail over to the next URL', async () => {
    const cases = [
        ['not JSON', rq => rq.method === 'eth_chainId' ? undefined : '<html>oops</html>', /not JSON/],
        ['a JSON string', rq => rq.method === 'eth_chainId' ? undefined : '"0x1"', /not JSON/],
        ['jsonrpc 1.0', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '1.0', id: rq.id, result: '0x1' }, /"jsonrpc" is not "2.0"/],
        ['another id', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '2.0', id: rq.id + 7, result: '0x1' }, /id is not the request's/],
        ['result and error', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '2.0', id: rq.id, result: '0x1', error: { code: 1, message: 'x' } }, /exactly one of/],
        ['a quantity in decimal', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '2.0', id: rq.id, result: '12' }, /not a quantity/],
        ['a quantity over 64 bits', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '2.0', id: rq.id, result: '0x1' + '0'.repeat(16) }, /not a quantity/],
        ['a number for a quantity', rq => rq.method === 'eth_chainId' ? undefined : { jsonrpc: '2.0', id: rq.id, result: 5 }, /not a quantity/],
    ];
    for (const [what, answer, message] of cases) {
        const node = await fakeNode(answer);
        try {
            const r = await axonRpc(['block-number'], { urls: node.url });
            assert.equal(r.code, 1, `${what}: ${r.stderr}`);
            assert.equal(r.out.error, 'malformed', what);
            assert.match(r.out.message, message, what);
        } finally { node.close(); }
    }

    // garbage, or an HTTP 500, from the first URL: the second answers
    for (const answer of [() => 'garbage', (rq, res) => { res.writeHead(500); res.end('down'); return null; }]) {
        const node = await fakeNode(answer);
        try {
            const r = await axonRpc(['block-number'], { urls: `${node.url},${s.chainUrl}` });
            assert.equal(r.code, 0, r.stderr);
            assert.ok(r.out.block_number >= 1);
        } finally { node.close(); }
    }

    // a batch answered with one error object (a node that takes no batch)
    const nobatch = await fakeNode(rq => Array.isArray(rq)
        ? { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batches not supported' } } : undefined);
    try {
        const r = await axonRpc(['blocks', '0', '2'], { urls: nobatch.url });
        assert.equal(r.out.error, 'rpc_error');
        assert.match(r.out.message, /batches not supported/);
    } finally { nobatch.close(); }

    // a batch with an answer missing, another twice
    const sloppy = await fakeNode(rq => Array.isArray(rq)
        ? [rq[0], rq[0]].map(q => ({ jsonrpc: '2.0', id: q.id, result: null })) : undefined);
    try {
        const r = await axonRpc(['receipts', '0x' + '44'.repeat(32), '0x' + '55'.repeat(32)], { urls: sloppy.url });
        assert.equal(r.code, 0, r.stderr);
        // each call is malformed (the message is the client's last one)
        assert.deepEqual(r.out.map(o => o.error), ['malformed', 'malformed']);
        assert.match(r.out[1].message, /no answer with id/);
    } finally { sloppy.close(); }

    // a malformed receipt: a field of the wrong shape is named
    const node = await fakeNode(rq => rq.method === 'eth_chainId' ? undefined
        : { jsonrpc: '2.0', id: rq.id, result: { transactionHash: '0x12' } });
    try {
        const r = await axonRpc(['receipt', '0x' + '33'.repeat(32)], { urls: node.url });
        assert.equal(r.out.error, 'malformed');
        assert.match(r.out.message, /"transactionHash" is not a 32-byte hash/);
    } finally { node.close(); }
});

test('a node that never answers: the call ends at eth_rpc_timeout and the next URL answers', async () => {
    const sockets = [];
    const silent = createTcpServer(c => { sockets.push(c); });     // accepts, never answers
    await new Promise(ok => silent.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${silent.address().port}`;
    try {
        let r = await axonRpc(['-T', '700', 'block-number'], { urls: url });
        assert.equal(r.out.error, 'transport');
        assert.match(r.out.message, /timed out/i);
        assert.ok(r.ms >= 650 && r.ms < 3000, `took ${r.ms} ms`);

        r = await axonRpc(['-T', '700', 'block-number'], { urls: `${url},${s.chainUrl}` });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.out.block_number >= 1);
        assert.ok(r.ms >= 650 && r.ms < 3000, `took ${r.ms} ms`);
    } finally {
        sockets.forEach(c => c.destroy());
        silent.close();
    }
});

test('the test USDC speaks EIP-3009 under mainnet USDC\'s EIP-712 domain', async () => {
    const t = s.chain.tokens.USDC;
    const [alice, bob, carol] = eth.wallets;
    const usdc = new Contract(t.address, EIP3009, carol);           // carol relays, pays the gas
    const domain = { name: 'USD Coin', version: '2', chainId: 1337, verifyingContract: t.address };
    assert.deepEqual(t.eip712, { name: 'USD Coin', version: '2' });
    assert.equal(await usdc.name(), 'USD Coin');
    assert.equal(await usdc.version(), '2');
    assert.equal(await usdc.DOMAIN_SEPARATOR(), TypedDataEncoder.hashDomain(domain));

    const now = (await eth.provider.getBlock('latest')).timestamp;
    // alice authorizes VALUE to bob; fields as the x402 SDK fills them
    const auth = (over = {}, signer = alice, types = TWA) => {
        const m = { from: alice.address, to: bob.address, value: 1_500_000n, validAfter: 0n,
            validBefore: BigInt(now + 600), nonce: hexlify(randomBytes(32)), ...over };
        return signer.signTypedData(domain, types, m).then(sig => ({ m, sig, v: Signature.from(sig) }));
    };
    const args = ({ m }) => [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce];
    const vrs = a => [...args(a), a.v.v, a.v.r, a.v.s];
    const TWA_BYTES = 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)';
    const TWA_VRS = 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)';
    const RWA_VRS = 'receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)';
    const twa = (a, bytes) => bytes ? usdc[TWA_BYTES](...args(a), a.sig) : usdc[TWA_VRS](...vrs(a));
    // what would happen: an eth_call, whose error carries the revert reason (ganache's
    // eth_estimateGas errors do not)
    const refused = (a, bytes, c = usdc) => bytes
        ? c[TWA_BYTES].staticCall(...args(a), a.sig) : c[TWA_VRS].staticCall(...vrs(a));
    const balances = async () => [await usdc.balanceOf(alice.address), await usdc.balanceOf(bob.address)];

    const a = await auth();
    const [a0, b0] = await balances();
    assert.equal(await usdc.authorizationState(alice.address, a.m.nonce), false);
    const rc = await (await twa(a)).wait();
    assert.deepEqual(await balances(), [a0 - a.m.value, b0 + a.m.value]);
    assert.equal(await usdc.authorizationState(alice.address, a.m.nonce), true);
    const used = rc.logs.map(l => usdc.interface.parseLog(l)).find(l => l?.name === 'AuthorizationUsed');
    assert.deepEqual([used.args.authorizer, used.args.nonce], [alice.address, a.m.nonce]);
    // the ERC-20 Transfer log the deposit indexer reads is there as for transfer()
    assert.ok(rc.logs.some(l => l.topics[0] === TRANSFER));

    // the same authorization again, in either form: refused, nothing moves
    await assert.rejects(refused(a), /authorization is used or canceled/);
    await assert.rejects(refused(a, true), /authorization is used or canceled/);
    await assert.rejects(twa(a));
    assert.deepEqual(await balances(), [a0 - a.m.value, b0 + a.m.value]);

    // the bytes-signature form
    const b = await auth({ value: 7n });
    await (await twa(b, true)).wait();
    assert.equal(await usdc.authorizationState(alice.address, b.m.nonce), true);

    // the validity window, strict at both ends; another signer; altered fields
    await assert.rejects(refused(await auth({ validBefore: BigInt(now - 1) })), /authorization is expired/);
    await assert.rejects(refused(await auth({ validAfter: BigInt(now + 3600) })), /not yet valid/);
    await assert.rejects(refused(await auth({}, bob)), /invalid signature/);
    const c = await auth();
    c.m.value += 1n;
    await assert.rejects(refused(c), /invalid signature/);
    await assert.rejects(refused(c, true), /invalid signature/);
    // a TransferWithAuthorization signature is no ReceiveWithAuthorization one, and receive
    // is for the payee only
    const d = await auth();
    const asBob = new Contract(t.address, EIP3009, bob);
    await assert.rejects(asBob[RWA_VRS].staticCall(...vrs(d)), /invalid signature/);
    const e = await auth({}, alice, RWA);
    await assert.rejects(usdc[RWA_VRS].staticCall(...vrs(e)), /caller must be the payee/);
    await (await asBob[RWA_VRS](...vrs(e))).wait();
    assert.equal(await usdc.authorizationState(alice.address, e.m.nonce), true);

    // a canceled authorization cannot be used
    const f = await auth();
    const cv = Signature.from(await alice.signTypedData(domain, CANCEL, { authorizer: alice.address, nonce: f.m.nonce }));
    await (await usdc['cancelAuthorization(address,bytes32,uint8,bytes32,bytes32)'](alice.address, f.m.nonce, cv.v, cv.r, cv.s)).wait();
    await assert.rejects(refused(f), /authorization is used or canceled/);
    assert.deepEqual(await balances(), [a0 - a.m.value - 7n - e.m.value, b0 + a.m.value + 7n + e.m.value]);
});

test('snapshot, mine, revert: the helpers later reorg tests use', async () => {
    const n = await s.blockNumber();
    const snap = await s.snapshot();
    await s.mine(3);
    assert.equal(await s.blockNumber(), n + 3);
    const r = await axonRpc(['block-number']);
    assert.equal(r.out.block_number, n + 3);
    await s.revert(snap);
    assert.equal(await s.blockNumber(), n);
});

test('the node down: calls fail at once as transport errors; back up with its state, nothing redeployed', async () => {
    const n = await s.blockNumber();
    const tokens = s.chain.tokens;
    await s.stopChain();

    const r = await axonRpc(['block-number']);
    assert.equal(r.out.error, 'transport');
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);

    await s.startChain();
    assert.equal(await s.blockNumber(), n);
    assert.match(s.log('chain.log'), /nothing to do/);
    assert.notEqual(await s.rpc('eth_getCode', [s.chain.multicall3, 'latest']), '0x');
    const again = await axonRpc(['balance', tokens.USDC.address, s.chain.demo_wallets[2].address]);
    assert.equal(again.out.balance, parseUnits('10000', 6).toString());
});

test('send: a transaction signed by libaxon (EIP-1559) is accepted and mined; nonces follow', async () => {
    const { Wallet, parseEther } = await import('ethers');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'axon-send-'));
    try {
        const w = Wallet.createRandom();
        const to = Wallet.createRandom().address;
        const keyFile = join(dir, 'key');
        writeFileSync(keyFile, w.privateKey + '\n', { mode: 0o600 });
        const funder = new Wallet(s.chain.demo_wallets[0].private_key, eth.provider);
        await (await funder.sendTransaction({ to: w.address, value: parseEther('1') })).wait();

        for (const [i, wei] of [[0, '12345'], [1, '6789']]) {
            const r = await axonRpc(['send', keyFile, to, '0x', '0x' + BigInt(wei).toString(16)]);
            assert.equal(r.code, 0, r.stderr + JSON.stringify(r.out));
            assert.equal(r.out.status, 'success');
            assert.equal(r.out.nonce, i);
            assert.equal(r.out.from, lower(w.address));
            const tx = await eth.provider.getTransaction(r.out.hash);
            assert.equal(tx.type, 2);
            assert.equal(tx.from, w.address);
            assert.equal(tx.to, to);
            assert.equal(tx.value, BigInt(wei));
            assert.equal(tx.chainId, 1337n);
            assert.equal(tx.blockNumber, r.out.block);
        }
        assert.equal(await eth.provider.getBalance(to), 12345n + 6789n);

        // a call with data: the token's transfer of nothing, gas estimated
        const data = '0xa9059cbb' + to.slice(2).toLowerCase().padStart(64, '0') + '0'.repeat(64);
        const r = await axonRpc(['send', keyFile, s.chain.tokens.USDC.address, data]);
        assert.equal(r.code, 0, r.stderr + JSON.stringify(r.out));
        assert.equal(r.out.status, 'success');
        assert.equal(r.out.nonce, 2);

        // a key that is not one
        writeFileSync(keyFile, '0x' + '00'.repeat(32));
        const bad = await axonRpc(['send', keyFile, to, '0x']);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /not a secp256k1 secret key/);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
