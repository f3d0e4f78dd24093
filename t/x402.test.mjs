// x402's formats against the local chain, before any module code: the
// unmodified SDK client (@x402/fetch + @x402/evm, a viem account) pays a
// tiny static 402 responder written here; the responder checks each
// payment with libaxon (build/axon-x402) and with a local facilitator built
// from the SDK's own code (t/lib/facilitator.mjs, settling on ganache from
// a demo wallet), reached over HTTP with the SDK's HTTPFacilitatorClient,
// and both must agree.  What it shows: the SDK pays on chain id 1337 for
// the test USDC (EIP-3009, domain "USD Coin" / "2"), libaxon recovers the
// SDK's signer from the PAYMENT-SIGNATURE header, the SDK's facilitator
// settles it with transferWithAuthorization, a replayed or altered header
// is refused, a facilitator that is down settles nothing and the payment
// goes through once it is back.  See docs/x402.md.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Contract, TypedDataEncoder } from 'ethers';
import { privateKeyToAccount } from 'viem/accounts';
import { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import {
    HTTPFacilitatorClient, encodePaymentRequiredHeader, decodePaymentSignatureHeader,
    encodePaymentSignatureHeader, encodePaymentResponseHeader,
} from '@x402/core/http';
import { Stack, BUILD } from './lib/stack.mjs';
import { Facilitator } from './lib/facilitator.mjs';

const NETWORK = 'eip155:1337';
const PRICE = '2500000';                // 2.50 USDC, over the SDK's default $1 cap
const ERC20 = [
    'function balanceOf(address) view returns (uint256)',
    'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
];
const TWA = {
    TransferWithAuthorization: [
        { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
        { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
        { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
    ],
};
const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

let s, eth, usdc, responder, fac, facilitator, payer, requirements;
const seen = [];                        // the requests the responder got

// build/axon-x402 [ARGS] HEADER -> {code, out}
function axonX402(header, args = []) {
    return new Promise((ok) => {
        const p = spawn(join(BUILD, 'axon-x402'), [...args, header]);
        let out = '', err = '';
        p.stdout.on('data', d => { out += d; });
        p.stderr.on('data', d => { err += d; });
        p.on('close', (code) => {
            assert.doesNotMatch(err, SANITIZER, err);
            ok({ code, out: JSON.parse(out) });
        });
    });
}

// The static 402 responder: no payment -> 402 with PAYMENT-REQUIRED;
// a payment -> libaxon's reading and the SDK facilitator's verify, then
// settle; 200 with PAYMENT-RESPONSE, or 402 saying why.
async function respond(req, res) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const header = req.headers['payment-signature'];
    seen.push({ method: req.method, url: req.url, body, header, xPayment: req.headers['x-payment'] });

    const required = (error) => {
        const pr = { x402Version: 2, ...(error ? { error } : {}),
            resource: { url: `http://127.0.0.1:${responder.address().port}${req.url}`,
                description: 'an SSH GPU session, profile small, 30 minutes', mimeType: 'application/json' },
            accepts: [requirements] };
        res.writeHead(402, { 'content-type': 'application/json', 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(pr),
            'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: { code: 'payment_required', message: error ?? 'pay with x402' } }));
    };

    if (!header) return required();

    let payload;
    try {
        payload = decodePaymentSignatureHeader(header);
    } catch {
        return required('malformed payment header');
    }
    // the gate would put in its own domain, never the client's
    const axon = await axonX402(header, ['-n', 'USD Coin', '-v', '2', '-i', '1337', '-a', s.chain.tokens.USDC.address]);
    let verify, settle;
    try {
        verify = await facilitator.verify(payload, requirements);
    } catch (e) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { code: 'facilitator_unavailable', message: String(e.message) } }));
    }
    if (!verify.isValid) return required(verify.invalidReason);
    settle = await facilitator.settle(payload, requirements);
    if (!settle.success) return required(settle.errorReason);
    res.writeHead(200, { 'content-type': 'application/json', 'PAYMENT-RESPONSE': encodePaymentResponseHeader(settle) });
    res.end(JSON.stringify({ axon: axon.out, verify, settle }));
}

before(async () => {
    s = await new Stack({ chain: true }).start();
    eth = await s.ethers();
    usdc = new Contract(s.chain.tokens.USDC.address, ERC20, eth.provider);

    // the facilitator's gas wallet: the third demo wallet; the payer: the first
    fac = await new Facilitator({ rpcUrl: s.chainUrl, chainId: 1337,
        privateKey: s.chain.demo_wallets[2].private_key }).start();
    facilitator = new HTTPFacilitatorClient({ url: fac.url });
    payer = privateKeyToAccount(s.chain.demo_wallets[0].private_key);

    requirements = {
        scheme: 'exact', network: NETWORK, asset: s.chain.tokens.USDC.address, amount: PRICE,
        payTo: s.chain.revenue_wallet, maxTimeoutSeconds: 300,
        extra: { name: s.chain.tokens.USDC.eip712.name, version: s.chain.tokens.USDC.eip712.version },
    };
    responder = createServer((req, res) => respond(req, res).catch((e) => {
        res.writeHead(500);
        res.end(String(e?.stack ?? e));
    }));
    await new Promise(ok => responder.listen(0, '127.0.0.1', ok));
});

after(async () => {
    responder?.close();
    await fac?.stop();
    await s?.stop();
});

const url = path => `http://127.0.0.1:${responder.address().port}${path}`;

// an agent's client: the SDK's fetch wrapper with the exact EVM scheme; a
// token that is not one of the SDK's default assets must be allowed
// explicitly (spend controls; null: the SDK's defaults)
function agent(spendControls = { allowedAssets: [{ network: NETWORK, asset: s.chain.tokens.USDC.address,
    maxAmountPerPayment: '10000000' }] }) {
    const client = new x402Client();
    registerExactEvmScheme(client, { signer: payer });
    if (spendControls !== null) client.setSpendControls(spendControls);
    return wrapFetchWithPayment(fetch, client);
}

let paid;                               // the header of the first payment

test('the SDK pays a 402 on chain 1337; libaxon and the SDK facilitator agree; settled on chain', async () => {
    const body = JSON.stringify({ profile: 'small', minutes: 30, ssh_public_key: 'ssh-ed25519 AAAA test' });
    const [rev0, pay0] = [await usdc.balanceOf(s.chain.revenue_wallet), await usdc.balanceOf(payer.address)];
    seen.length = 0;
    fac.requests.length = 0;

    const res = await agent()(url('/api/x402/session'), { method: 'POST', body,
        headers: { 'content-type': 'application/json' } });
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));

    // two requests: unpaid, then the same POST with PAYMENT-SIGNATURE (not X-PAYMENT)
    assert.equal(seen.length, 2);
    assert.deepEqual(seen.map(r => [r.method, r.url, r.body]), [['POST', '/api/x402/session', body], ['POST', '/api/x402/session', body]]);
    assert.equal(seen[0].header, undefined);
    assert.equal(seen[1].xPayment, undefined);
    paid = seen[1].header;
    assert.match(paid, /^[A-Za-z0-9+/]+={0,2}$/);

    // the payload: version 2, the accepted requirements echoed, an EIP-3009 authorization
    const p = decodePaymentSignatureHeader(paid);
    assert.equal(p.x402Version, 2);
    assert.deepEqual(p.accepted, requirements);
    assert.equal(p.resource.url, url('/api/x402/session'));
    const a = p.payload.authorization;
    assert.deepEqual(Object.keys(p.payload).sort(), ['authorization', 'signature']);
    assert.deepEqual(Object.keys(a).sort(), ['from', 'nonce', 'to', 'validAfter', 'validBefore', 'value']);
    assert.deepEqual([a.from, a.to, a.value, a.validAfter], [payer.address, s.chain.revenue_wallet, PRICE, '0']);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Number(a.validBefore) > now && Number(a.validBefore) <= now + 300, a.validBefore);
    assert.match(a.nonce, /^0x[0-9a-f]{64}$/);
    assert.match(p.payload.signature, /^0x[0-9a-f]{130}$/);

    // libaxon read the header, recovered the payer, over the digest ethers computes
    const domain = { name: 'USD Coin', version: '2', chainId: 1337, verifyingContract: s.chain.tokens.USDC.address };
    assert.equal(out.axon.signer, payer.address);
    assert.equal(out.axon.signed_by_from, true);
    assert.equal(out.axon.digest, TypedDataEncoder.hash(domain, TWA, a));
    assert.deepEqual([out.axon.value, out.axon.to, out.axon.nonce, out.axon.valid_before],
        [PRICE, s.chain.revenue_wallet, a.nonce, a.validBefore]);
    // the SDK facilitator: valid, the same payer
    assert.deepEqual(out.verify, { isValid: true, payer: payer.address });

    // what went over the facilitator API: verify, then settle, each with the payload and
    // the requirements
    assert.deepEqual(fac.requests.map(r => [r.method, r.path]), [['POST', '/verify'], ['POST', '/settle']]);
    for (const r of fac.requests) {
        assert.deepEqual(r.body, { x402Version: 2, paymentPayload: p, paymentRequirements: requirements });
    }

    // the settlement: PAYMENT-RESPONSE as the SDK decodes it, and the chain
    const settle = decodePaymentResponseHeader(res.headers.get('PAYMENT-RESPONSE'));
    assert.equal(settle.success, true);
    assert.equal(settle.network, NETWORK);
    assert.equal(settle.payer, payer.address);
    assert.match(settle.transaction, /^0x[0-9a-f]{64}$/);
    const rc = await eth.provider.getTransactionReceipt(settle.transaction);
    assert.equal(rc.status, 1);
    assert.equal(rc.to, s.chain.tokens.USDC.address);
    assert.equal(await usdc.balanceOf(s.chain.revenue_wallet), rev0 + BigInt(PRICE));
    assert.equal(await usdc.balanceOf(payer.address), pay0 - BigInt(PRICE));
    assert.equal(await usdc.authorizationState(payer.address, a.nonce), true);
});

test('a replayed header: still a good signature to libaxon, refused by the chain (nonce used), nothing moves', async () => {
    assert.ok(paid, 'the first test paid');
    const rev0 = await usdc.balanceOf(s.chain.revenue_wallet);

    const cli = await axonX402(paid);
    assert.equal(cli.code, 0);
    assert.equal(cli.out.signed_by_from, true);     // replays are the nonce's business

    const res = await fetch(url('/api/x402/session'), { method: 'POST', headers: { 'PAYMENT-SIGNATURE': paid }, body: '{}' });
    assert.equal(res.status, 402);
    const pr = JSON.parse(Buffer.from(res.headers.get('PAYMENT-REQUIRED'), 'base64').toString());
    assert.equal(pr.x402Version, 2);
    // the facilitator's diagnosis (through Multicall3, which deploy.mjs puts on the local chain)
    assert.equal(pr.error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(await usdc.balanceOf(s.chain.revenue_wallet), rev0);
});

test('a payer without the money: the facilitator says insufficient balance, nothing moves', async () => {
    const poor = privateKeyToAccount(`0x${'42'.repeat(32)}`);
    const client = new x402Client();
    registerExactEvmScheme(client, { signer: poor });
    client.setSpendControls(false);
    const res = await wrapFetchWithPayment(fetch, client)(url('/api/x402/session'), { method: 'POST', body: '{}' });
    assert.equal(res.status, 402);
    const pr = JSON.parse(Buffer.from(res.headers.get('PAYMENT-REQUIRED'), 'base64').toString());
    assert.equal(pr.error, 'invalid_exact_evm_insufficient_balance');
    assert.equal(await usdc.balanceOf(poor.address), 0n);
});

test('an altered header: libaxon recovers someone else (exit 1), the SDK facilitator says invalid signature', async () => {
    const p = decodePaymentSignatureHeader(paid);
    p.payload.authorization.value = String(BigInt(PRICE) * 10n);
    p.payload.authorization.nonce = `0x${'11'.repeat(32)}`;
    const forged = encodePaymentSignatureHeader(p);

    const cli = await axonX402(forged);
    assert.equal(cli.code, 1);
    assert.equal(cli.out.signed_by_from, false);
    assert.notEqual(cli.out.signer, payer.address);

    const res = await fetch(url('/api/x402/session'), { method: 'POST', headers: { 'PAYMENT-SIGNATURE': forged } });
    assert.equal(res.status, 402);
    const pr = JSON.parse(Buffer.from(res.headers.get('PAYMENT-REQUIRED'), 'base64').toString());
    assert.equal(pr.error, 'invalid_exact_evm_signature');

    // headers that are no payment at all, or not a well-formed one: libaxon says why
    const b64 = o => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');
    const good = decodePaymentSignatureHeader(paid);
    const auth = over => b64({ ...good, payload: { ...good.payload,
        authorization: { ...good.payload.authorization, ...over } } });
    for (const [bad, code] of [
        ['%%%', 'bad_base64'], [paid + '=', 'bad_base64'], [b64('{"x402Version":2'), 'bad_json'],
        [b64('{"x402Version":2,"x402Version":1}'), 'bad_json'],      // duplicate keys
        [b64({ x402Version: 2 }), 'bad_payload'], [b64({ ...good, x402Version: 3 }), 'bad_payload'],
        [b64({ ...good, accepted: { ...good.accepted, scheme: 'upto' } }), 'bad_payload'],
        [b64({ ...good, accepted: { ...good.accepted, network: 'solana:5eykt4' } }), 'bad_payload'],
        [auth({ value: '0100' }), 'bad_number'], [auth({ value: '-1' }), 'bad_number'],
        [auth({ validBefore: '1e9' }), 'bad_number'], [auth({ nonce: '0x1234' }), 'bad_length'],
        [auth({ to: good.payload.authorization.to.toLowerCase().replace('0x', '0X') }), 'bad_hex'],
        [auth({ from: undefined }), 'bad_payload'],
        [b64({ ...good, payload: { ...good.payload, signature: good.payload.signature.slice(0, 130) } }), 'bad_length'],
    ]) {
        const r = await axonX402(bad);
        assert.equal(r.code, 2, bad);
        assert.equal(r.out.error, code, `${Buffer.from(bad, 'base64').toString().slice(0, 120)}: ${r.out.message}`);
    }
});

test('the facilitator down: nothing settled, a clear error; back on the same port, the same payment goes through', async () => {
    const supported = await facilitator.getSupported();
    assert.deepEqual(supported.kinds.filter(k => k.x402Version === 2), [{ x402Version: 2, scheme: 'exact', network: NETWORK }]);
    assert.deepEqual(supported.signers['eip155:*'], [fac.address]);

    // a payment made while the facilitator is down
    let header;
    const client = new x402Client();
    registerExactEvmScheme(client, { signer: payer });
    client.setSpendControls(false);
    const capture = async (input, init) => {
        const r = new Request(input, init);
        header ??= r.headers.get('PAYMENT-SIGNATURE') ?? undefined;
        return fetch(r);
    };
    const rev0 = await usdc.balanceOf(s.chain.revenue_wallet);
    await fac.stop();
    const res = await wrapFetchWithPayment(capture, client)(url('/api/x402/session'), { method: 'POST', body: '{}' });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, 'facilitator_unavailable');
    assert.equal(res.headers.get('PAYMENT-RESPONSE'), null);
    assert.equal(await usdc.balanceOf(s.chain.revenue_wallet), rev0);
    const { nonce } = decodePaymentSignatureHeader(header).payload.authorization;
    assert.equal(await usdc.authorizationState(payer.address, nonce), false);

    // back: the same header pays, once
    await fac.start();
    const again = await fetch(url('/api/x402/session'), { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header }, body: '{}' });
    assert.equal(again.status, 200);
    const settle = decodePaymentResponseHeader(again.headers.get('PAYMENT-RESPONSE'));
    assert.equal(settle.success, true);
    assert.equal(await usdc.balanceOf(s.chain.revenue_wallet), rev0 + BigInt(PRICE));
    assert.equal(await usdc.authorizationState(payer.address, nonce), true);
});

test('the local facilitator refuses what is not a facilitator request', async () => {
    for (const [method, path, body, status] of [['POST', '/verify', 'not json', 400], ['POST', '/settle', '{}', 400],
        ['GET', '/verify', undefined, 404], ['POST', '/other', '{}', 404]]) {
        const r = await fetch(`${fac.url}${path}`, { method, body });
        assert.equal(r.status, status, `${method} ${path}`);
        assert.ok((await r.json()).error);
    }
});

test('the SDK\'s default spend controls refuse a token it does not know, and more than $1 of one it does', async () => {
    await assert.rejects(agent(null)(url('/api/x402/session'), { method: 'POST', body: '{}' }),
        /spendControls/);
    // the same chain id and amount for mainnet USDC on Base: over the default $1 cap
    const base = { ...requirements, network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' };
    const client = new x402Client();
    registerExactEvmScheme(client, { signer: payer });
    assert.throws(() => client.selectPaymentRequirements(2, [base]), /maxAmountPerPayment \(\$1/);
    assert.deepEqual(client.selectPaymentRequirements(2, [{ ...base, amount: '1000000' }]).amount, '1000000');
});
