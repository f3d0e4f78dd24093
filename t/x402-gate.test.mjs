// The gate's side of x402: the module's discovery, its checks of
// a PAYMENT-SIGNATURE, the one x402.pay job it queues, and its answer once
// the worker has settled (or not).  Real nginx, Redis and local chain; the
// unmodified SDK client (@x402/fetch, @x402/evm with a viem account) pays.
// The worker is stopped and the test plays its side of x402.pay by writing
// what the contract says it writes (docs/protocol.md: "The x402.pay job"): the record's
// outcome and, once settled, the payer's token (settle() below).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAccount } from 'viem/accounts';
import { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http';
import { Stack, freePort, waitFor } from './lib/stack.mjs';

const NETWORK = 'eip155:1337';
const PRICE = 16667n;                   // chain/deploy.mjs: atomic USDC per credit minute
const PROFILES = { profiles: [
    { name: 'small', gpus: 1, price: 1, per_minute: 1 },
    { name: 'large', gpus: 4, price: 1, per_minute: 4 },
] };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl agent@test';
const BODY = { profile: 'small', minutes: 30, ssh_public_key: KEY };
const TWA = {
    TransferWithAuthorization: [
        { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
        { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
        { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
    ],
};

let s, shortPort, capPort, slowPort, payer, other, usdc;

before(async () => {
    shortPort = await freePort();
    capPort = await freePort();
    slowPort = await freePort();
    // a second server whose paid requests wait 1s only: the 202 path; a
    // third with small bounds of pending payments; a fourth that sends
    // 200 bytes a second (an answer is not written at once).  The simulated worker
    // never takes a payment out of the pending sets: room for this file's.
    s = await new Stack({ chain: true, nginx: () => `
        axon_x402_pending 1000 100;
        server {
            listen 127.0.0.1:${shortPort};
            axon_x402_wait 1s;
            location /api/ { axon_api; }
        }
        server {
            listen 127.0.0.1:${capPort};
            axon_x402_wait 1s;
            axon_x402_pending 3 2;
            location /api/ { axon_api; }
        }
        server {
            listen 127.0.0.1:${slowPort};
            axon_x402_wait 1s;
            limit_rate 200;
            location /api/ { axon_api; }
        }\n` }).start();
    await s.stack('stop', 'worker');
    s.redis('SET', 'axon:profiles', JSON.stringify(PROFILES));
    payer = privateKeyToAccount(s.chain.demo_wallets[0].private_key);
    other = privateKeyToAccount(s.chain.demo_wallets[1].private_key);
    usdc = s.chain.tokens.USDC;
});

after(async () => { await s?.stop(); });

const short = path => `http://127.0.0.1:${shortPort}${path}`;

function client(account = payer) {
    const c = new x402Client();
    registerExactEvmScheme(c, { signer: account });
    c.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: usdc.address,
        maxAmountPerPayment: '10000000' }] });       // 10 USDC
    return c;
}

// the SDK's fetch wrapper; sent[] records the headers of what it sent
function agent(sent = []) {
    const spy = async (input, init) => {
        const req = new Request(input, init);
        sent.push({ method: req.method, signature: req.headers.get('PAYMENT-SIGNATURE') });
        return fetch(req);
    };
    return wrapFetchWithPayment(spy, client());
}

const post = (body, headers = {}, url = s.url('/api/x402/session')) => fetch(url, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
});

// the x402.pay jobs in axon:x402:jobs (the x402 process's stream), as objects
function payJobs() {
    const text = s.redisPipe([`EVAL "local r = {} for _, e in ipairs(redis.call('XRANGE', 'axon:x402:jobs', '-', '+')) do local o = {} for i = 1, #e[2], 2 do o[e[2][i]] = e[2][i + 1] end if o.kind == 'x402.pay' then table.insert(r, cjson.encode(o)) end end return '[' .. table.concat(r, ',') .. ']'" 0`])[0];
    return JSON.parse(text);
}

// what the worker writes when a payment settled: the record's fields and,
// the first time, the payer's token (its hash came with the job)
function workerSettles(key, job, ...fields) {
    s.redis('HSET', key, 'state', 'settled', ...fields);
    s.redis('SET', `axon:token:${job.token_hash}`,
        JSON.stringify({ wallet: job.payer, exp: Number(job.token_exp) }), 'EXAT', job.token_exp);
}

const payKeys = () => Number(s.redisPipe([`EVAL "return #redis.call('KEYS', 'axon:x402:pay:*')" 0`])[0]);

function execHash(key) {
    const text = s.redisPipe([`EVAL "return cjson.encode(redis.call('HGETALL', KEYS[1]))" 1 ${key}`])[0];
    const a = JSON.parse(text);
    const o = {};
    for (let i = 0; i + 1 < a.length; i += 2) o[a[i]] = a[i + 1];
    return o;
}

// 402 from the module: PAYMENT-REQUIRED as the SDK decodes it
async function required(res) {
    assert.equal(res.status, 402, await res.clone().text());
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type'), /application\/json/);
    const header = res.headers.get('PAYMENT-REQUIRED');
    assert.match(header, /^[A-Za-z0-9+/]+={0,2}$/);
    const pr = decodePaymentRequiredHeader(header);
    const body = await res.json();
    return { pr, body };
}

function offer(profile, minutes, perMinute) {
    return {
        scheme: 'exact', network: NETWORK, asset: usdc.address,
        amount: String(BigInt(minutes * perMinute) * PRICE), payTo: s.chain.revenue_wallet,
        maxTimeoutSeconds: 300,
        extra: { name: 'USD Coin', version: '2', profile, minutes },
    };
}

test('discovery: GET /.well-known/x402 and /api/x402/session answer 402 with every offer, as the SDK reads it', async () => {
    for (const path of ['/.well-known/x402', '/api/x402/session']) {
        const { pr, body } = await required(await s.fetch(path));
        assert.equal(pr.x402Version, 2);
        assert.equal(pr.resource.url, s.url('/api/x402/session'));
        assert.equal(pr.resource.mimeType, 'application/json');
        assert.equal(pr.error, undefined);
        assert.deepEqual(pr.accepts, [
            offer('small', 30, 1), offer('small', 60, 1), offer('small', 120, 1),
            offer('large', 30, 4), offer('large', 60, 4), offer('large', 120, 4),
        ]);
        // the body: the same, and an error object as every API error
        assert.deepEqual(body.accepts, pr.accepts);
        assert.equal(body.error.code, 'payment_required');
    }
    // the SDK's client picks and signs the first offer its spend controls allow
    const { pr } = await required(await s.fetch('/.well-known/x402'));
    const p = await client().createPaymentPayload(pr);
    assert.deepEqual(p.accepted, offer('small', 30, 1));
    // POST to the discovery location: 405
    const r = await s.fetch('/.well-known/x402', { method: 'POST' });
    assert.equal(r.status, 405);
});

test('an unpaid POST: 402 with the one offer asked for; a bad body is 400, nothing written', async () => {
    const { pr } = await required(await post(BODY));
    assert.deepEqual(pr.accepts, [offer('small', 30, 1)]);
    const large = await required(await post({ ...BODY, profile: 'large', minutes: 120 }));
    assert.deepEqual(large.pr.accepts, [offer('large', 120, 4)]);
    assert.equal(large.pr.accepts[0].amount, String(120n * 4n * PRICE));

    const bad = [
        ['not json', 'bad_json'],
        [{ profile: 'small' }, 'bad_request'],
        [{ ...BODY, minutes: '30' }, 'bad_request'],
        [{ ...BODY, minutes: 45 }, 'unknown_minutes'],
        [{ ...BODY, profile: 'huge' }, 'unknown_profile'],
        [{ ...BODY, profile: 'Bad Name' }, 'unknown_profile'],
        [{ ...BODY, ssh_public_key: 'ssh-rsa nope' }, 'bad_ssh_key'],
        [{ profile: 'small', minutes: 30 }, 'bad_ssh_key'],
        [{ ...BODY, session_id: -1 }, 'bad_request'],
    ];
    for (const [body, code] of bad) {
        const res = await post(body);
        const out = await res.json();
        assert.equal(res.status, 400, JSON.stringify([body, out]));
        assert.equal(out.error.code, code, JSON.stringify(body));
    }
    assert.equal(payJobs().length, 0);
    assert.equal(payKeys(), 0);
});

test('an unpaid top-up answers the same for another wallet\'s live session, an ended one and none: no oracle on session ids', async () => {
    s.redis('HSET', 'axon:session:8001', 'id', '8001', 'wallet', other.address.toLowerCase(),
        'profile', 'small', 'mode', 'ssh', 'gpus', '1', 'state', 'running');
    s.redis('HSET', 'axon:session:8002', 'id', '8002', 'wallet', other.address.toLowerCase(),
        'profile', 'small', 'mode', 'desktop', 'gpus', '1', 'state', 'ended');
    const answers = [];
    for (const id of [8001, 8002, 8003]) {
        const res = await post({ profile: 'small', minutes: 60, session_id: id });
        answers.push({ status: res.status, body: await res.text(),
            required: res.headers.get('PAYMENT-REQUIRED') });
    }
    assert.equal(answers[0].status, 402, answers[0].body);
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    s.redis('DEL', 'axon:session:8001', 'axon:session:8002');
    assert.equal(payJobs().length, 0);
});

// a fresh payment for BODY's offer, signed by the SDK's client
async function payload(body = BODY) {
    const { pr } = await required(await post(body));
    return client().createPaymentPayload(pr);
}

// the payload with its authorization changed and signed again by account
async function resigned(p, change = {}, account = payer, domain = {}) {
    const q = structuredClone(p);
    Object.assign(q.payload.authorization, change);
    const a = q.payload.authorization;
    q.payload.signature = await account.signTypedData({
        domain: { name: 'USD Coin', version: '2', chainId: 1337, verifyingContract: usdc.address, ...domain },
        types: TWA, primaryType: 'TransferWithAuthorization',
        message: { from: a.from, to: a.to, value: BigInt(a.value), validAfter: BigInt(a.validAfter),
            validBefore: BigInt(a.validBefore), nonce: a.nonce },
    });
    return q;
}

const b64 = text => Buffer.from(text).toString('base64');

let paidHeader, paidNonce, paidToken, sessionId = 100;

test('the SDK pays: one x402.pay job with the contract\'s fields; the simulated worker runs the session: 200 with SSH coordinates and PAYMENT-RESPONSE', async () => {
    const sent = [];
    const pending = agent(sent)(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(BODY),
        headers: { 'content-type': 'application/json' } });

    // the module queued exactly one job and recorded the payment, pending
    const [job] = await waitFor(() => payJobs().length === 1 && payJobs(), 'the x402.pay job');
    const p = JSON.parse(job.payload);
    const a = p.payload.authorization;
    assert.equal(job.kind, 'x402.pay');
    assert.equal(job.nonce, a.nonce);
    assert.equal(job.payer, payer.address.toLowerCase());
    assert.equal(job.profile, 'small');
    assert.equal(job.minutes, '30');
    assert.equal(job.ssh_key, KEY);
    assert.equal(job.amount, String(30n * PRICE));
    assert.deepEqual(JSON.parse(job.requirements), offer('small', 30, 1));
    assert.deepEqual(p.accepted, offer('small', 30, 1));
    assert.equal(p.x402Version, 2);
    assert.match(job.token_hash, /^[0-9a-f]{64}$/);
    assert.equal(job.session_id, undefined);
    assert.equal(a.value, job.amount);

    const key = `axon:x402:pay:${a.nonce}`;
    const rec = execHash(key);
    assert.equal(rec.state, 'pending');
    assert.equal(rec.payer, job.payer);
    assert.deepEqual([rec.profile, rec.minutes, rec.amount, rec.network, rec.token_hash, rec.valid_before],
        ['small', '30', job.amount, NETWORK, job.token_hash, a.validBefore]);
    assert.match(rec.job_id, /^\d+-\d+$/);
    const ttl = Number(s.redis('TTL', key).replace('(integer) ', ''));
    assert.ok(ttl > Number(a.validBefore) - Math.floor(Date.now() / 1000), `ttl ${ttl}`);
    // no token before the payment settled: the worker stores it then, until token_exp
    assert.equal(s.redis('EXISTS', `axon:token:${job.token_hash}`), '(integer) 0');
    const exp = Number(job.token_exp) - Math.floor(Date.now() / 1000);
    assert.ok(exp > 12 * 3600 - 60 && exp <= 12 * 3600, `token_exp in ${exp} s`);

    // the worker's part: settled, a session, running
    const tx = `0x${'ab'.repeat(32)}`;
    const now = Math.floor(Date.now() / 1000);
    s.redis('HSET', `axon:session:${sessionId}`, 'id', String(sessionId), 'wallet', job.payer,
        'profile', 'small', 'mode', 'ssh', 'gpus', '1', 'state', 'running', 'started_at', String(now),
        'connect_host', '127.0.0.1', 'connect_port', '2222', 'connect_user', 'aXonian');
    s.redis('HSET', 'axon:wallet:' + job.payer, 'session', String(sessionId));
    workerSettles(key, job, 'transaction', tx, 'session_id', String(sessionId),
        'paid_until', String(now + 1800), 'settled_at', String(now));

    const res = await pending;
    const out = await res.json();
    assert.equal(res.status, 200, JSON.stringify(out));
    assert.equal(out.session_id, sessionId);
    assert.deepEqual([out.ssh_host, out.ssh_port, out.ssh_user, out.ssh_command],
        ['127.0.0.1', 2222, 'aXonian', 'ssh -p 2222 -o StrictHostKeyChecking=accept-new aXonian@127.0.0.1']);
    assert.equal(out.expires_at, new Date((now + 1800) * 1000).toISOString().replace('.000', ''));
    assert.equal(out.payment_id, a.nonce);
    assert.match(out.auth_token, /^[A-Za-z0-9_-]{43}$/);
    const settle = decodePaymentResponseHeader(res.headers.get('PAYMENT-RESPONSE'));
    assert.deepEqual(settle, { success: true, transaction: tx, network: NETWORK, payer: payer.address });
    // the auth token is a sign-in's: GET /api/session shows the same session and the same command
    const mine = await s.json('/api/session', { headers: { authorization: `Bearer ${out.auth_token}` } });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.session_id, sessionId);
    assert.equal(mine.body.ssh_command, out.ssh_command);

    // two requests: unpaid, then paid
    assert.deepEqual(sent.map(r => [r.method, !!r.signature]), [['POST', false], ['POST', true]]);
    paidHeader = sent[1].signature;
    paidNonce = a.nonce;
    paidToken = out.auth_token;

    // the auth token ends the session: POST /api/release queues session.release
    const rel = await s.json('/api/release', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth_token: paidToken }) });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
    assert.equal(rel.body.session_id, sessionId);
});

test('a replayed PAYMENT-SIGNATURE: 402 invalid_exact_evm_nonce_already_used, still one job', async () => {
    const res = await post(BODY, { 'PAYMENT-SIGNATURE': paidHeader });
    const { pr, body } = await required(res);
    assert.equal(pr.error, 'invalid_exact_evm_nonce_already_used');
    assert.equal(body.error.code, 'invalid_exact_evm_nonce_already_used');
    assert.deepEqual(pr.accepts, [offer('small', 30, 1)]);
    assert.equal(payJobs().length, 1);
    assert.equal(execHash(`axon:x402:pay:${paidNonce}`).state, 'settled');
});

const tokenKeys = () => Number(s.redisPipe([`EVAL "return #redis.call('KEYS', 'axon:token:*')" 0`])[0]);

// what a refusal before charging leaves: no record, no job, no token, no PAYMENT-RESPONSE
async function refusedBeforeCharging(res, status, code, counts) {
    const out = await res.json();
    assert.equal(res.status, status, JSON.stringify(out));
    assert.equal(out.error.code, code);
    assert.match(out.error.message, /nothing was charged/);
    assert.equal(res.headers.get('PAYMENT-RESPONSE'), null);
    assert.equal(res.headers.get('PAYMENT-REQUIRED'), null);
    assert.equal(out.auth_token, undefined);
    assert.deepEqual([payJobs().length, payKeys(), tokenKeys()], counts);
    return out;
}

test('what cannot give a session is refused before anything is recorded: 409 session_exists, 404 unknown_session, 409 session_ended, 409 desktop_session', async () => {
    const counts = [payJobs().length, payKeys(), tokenKeys()];
    assert.deepEqual(counts.slice(0, 2), [1, 1]);
    const wallet = payer.address.toLowerCase();

    // a new session while the payer's session 100 is live (release asked, not ended yet):
    // the SDK signs (the unpaid POST cannot know the payer), the paid POST is refused
    assert.equal(execHash(`axon:session:${sessionId}`).state, 'running');
    let sent = [];
    let res = await agent(sent)(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(BODY),
        headers: { 'content-type': 'application/json' } });
    let out = await refusedBeforeCharging(res, 409, 'session_exists', counts);
    assert.equal(out.error.session_id, sessionId);
    assert.equal(out.error.status, 'running');
    assert.match(out.error.message, /session_id/);
    assert.match(out.error.message, /POST \/api\/release/);
    assert.match(out.error.message, /not submitted/);
    assert.deepEqual(sent.map(r => [r.method, !!r.signature]), [['POST', false], ['POST', true]]);
    // any live state counts: queued too
    s.redis('HSET', `axon:session:${sessionId}`, 'state', 'queued');
    res = await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(await payload()) });
    out = await refusedBeforeCharging(res, 409, 'session_exists', counts);
    assert.equal(out.error.status, 'queued');
    s.redis('HSET', `axon:session:${sessionId}`, 'state', 'running');

    // top-ups: the offer does not depend on session_id, so a payment signed for
    // it is sent with each session_id in turn
    const top = id => ({ profile: 'small', minutes: 60, session_id: id });
    const paidTopUp = async id => post(top(id),
        { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(await payload({ profile: 'small', minutes: 60, ssh_public_key: KEY })) });

    // no such session: the unpaid POST does not tell (402, as for any
    // session), the paid one does, to its payer
    sent = [];
    res = await agent(sent)(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(top(9999)),
        headers: { 'content-type': 'application/json' } });
    await refusedBeforeCharging(res, 404, 'unknown_session', counts);
    assert.deepEqual(sent.map(r => [r.method, !!r.signature]), [['POST', false], ['POST', true]]);
    await refusedBeforeCharging(await paidTopUp(9999), 404, 'unknown_session', counts);

    // another wallet's session: only the paid POST knows the payer
    s.redis('HSET', 'axon:session:9001', 'id', '9001', 'wallet', other.address.toLowerCase(),
        'profile', 'small', 'mode', 'ssh', 'gpus', '1', 'state', 'running');
    await required(await post(top(9001)));
    out = await refusedBeforeCharging(await paidTopUp(9001), 404, 'unknown_session', counts);
    assert.equal(out.error.session_id, undefined);
    // ... also once it has ended (not the payer's: 404, not 409)
    s.redis('HSET', 'axon:session:9001', 'state', 'ended');
    await refusedBeforeCharging(await paidTopUp(9001), 404, 'unknown_session', counts);

    // the payer's own session, ended: 409 once paid (unpaid: 402, as for any session)
    s.redis('HSET', 'axon:session:9002', 'id', '9002', 'wallet', wallet,
        'profile', 'small', 'mode', 'ssh', 'gpus', '1', 'state', 'ended', 'end_reason', 'released');
    sent = [];
    res = await agent(sent)(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(top(9002)),
        headers: { 'content-type': 'application/json' } });
    await refusedBeforeCharging(res, 409, 'session_ended', counts);
    assert.equal(sent.length, 2);
    out = await refusedBeforeCharging(await paidTopUp(9002), 409, 'session_ended', counts);
    assert.match(out.error.message, /not submitted/);
    // ... and released, its container stopping: no minute of it is left to top up
    s.redis('HSET', 'axon:session:9002', 'state', 'ending');
    await refusedBeforeCharging(await paidTopUp(9002), 409, 'session_ended', counts);

    // the payer's own desktop session: x402 answers never carry a VNC password
    s.redis('HSET', 'axon:session:9003', 'id', '9003', 'wallet', wallet,
        'profile', 'small', 'mode', 'desktop', 'gpus', '1', 'state', 'running');
    out = await refusedBeforeCharging(await paidTopUp(9003), 409, 'desktop_session', counts);
    assert.match(out.error.message, /not submitted/);

    // the payer's live session 100 can be topped up: recorded and queued
    res = await post(top(sessionId), { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(
        await payload({ profile: 'small', minutes: 60, ssh_public_key: KEY })) }, short('/api/x402/session'));
    assert.equal(res.status, 202, await res.clone().text());
    assert.deepEqual([payJobs().length, payKeys(), tokenKeys()], [counts[0] + 1, counts[1] + 1, counts[2]]);
    assert.equal(payJobs().at(-1).session_id, String(sessionId));

    // the worker ends session 100 (its release): a new session may be paid for again
    s.redis('HSET', `axon:session:${sessionId}`, 'state', 'ended', 'end_reason', 'released');
    s.redis('DEL', 'axon:session:9001', 'axon:session:9002', 'axon:session:9003');
});

test('payments that are wrong: 402 with the reason, or 400 for a malformed header; no job, no record', async () => {
    const good = await payload();
    const now = Math.floor(Date.now() / 1000);
    const stranger = '0x1111111111111111111111111111111111111111';
    const cases = [
        ['underpaid (value)', await resigned(good, { value: String(30n * PRICE - 1n) }),
            'invalid_exact_evm_payload_authorization_value_mismatch'],
        ['underpaid (accepted)', { ...good, accepted: { ...good.accepted, amount: '1' } },
            'no_matching_payment_requirements'],
        ['wrong payTo (authorization)', await resigned(good, { to: stranger }),
            'invalid_exact_evm_recipient_mismatch'],
        ['wrong payTo (accepted)', { ...good, accepted: { ...good.accepted, payTo: stranger } },
            'no_matching_payment_requirements'],
        ['wrong asset', { ...(await resigned(good, {}, payer, { verifyingContract: s.chain.tokens.AXGT.address })),
            accepted: { ...good.accepted, asset: s.chain.tokens.AXGT.address } },
            'no_matching_payment_requirements'],
        ['wrong asset domain only', await resigned(good, {}, payer, { verifyingContract: s.chain.tokens.AXGT.address }),
            'invalid_exact_evm_signature'],
        ['wrong network', { ...good, accepted: { ...good.accepted, network: 'eip155:8453' } },
            'invalid_exact_evm_network_mismatch'],
        ['wrong scheme', { ...good, accepted: { ...good.accepted, scheme: 'upto' } }, 'invalid_exact_evm_scheme'],
        ['expired', await resigned(good, { validBefore: String(now - 10) }),
            'invalid_exact_evm_payload_authorization_valid_before'],
        ['expiring within the SDK margin', await resigned(good, { validBefore: String(now + 2) }),
            'invalid_exact_evm_payload_authorization_valid_before'],
        ['valid for too long', await resigned(good, { validBefore: String(now + 86400) }),
            'invalid_exact_evm_payload_authorization_valid_before'],
        ['not yet valid', await resigned(good, { validAfter: String(now + 3600) }),
            'invalid_exact_evm_payload_authorization_valid_after'],
        ['signed by another key', await resigned(good, {}, other), 'invalid_exact_evm_signature'],
        ['a field changed after signing', { ...good, payload: { ...good.payload,
            authorization: { ...good.payload.authorization, validBefore: String(now + 200) } } },
            'invalid_exact_evm_signature'],
        ['version 1', { ...good, x402Version: 1 }, 'invalid_x402_version'],
    ];
    for (const [what, p, reason] of cases) {
        const res = await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) });
        const { pr, body } = await required(res);
        assert.equal(pr.error, reason, what);
        assert.equal(body.error.code, reason, what);
        assert.deepEqual(pr.accepts, [offer('small', 30, 1)], what);
    }

    // version 1's header alone: answered with version 2's requirements
    {
        const { pr } = await required(await post(BODY, { 'X-PAYMENT': b64('{"x402Version":1}') }));
        assert.equal(pr.error, 'invalid_x402_version');
    }

    const malformed = [
        ['bad base64', 'not base64!!'],
        ['bad padding', 'YWJj='],
        ['not JSON', b64('hello, gate')],
        ['a JSON array', b64('[1,2]')],
        ['duplicate keys', b64('{"x402Version":2,"x402Version":2}')],
        ['no authorization', b64(JSON.stringify({ x402Version: 2, accepted: good.accepted, payload: {} }))],
        ['a bad nonce', encodePaymentSignatureHeader({ ...good, payload: { ...good.payload,
            authorization: { ...good.payload.authorization, nonce: '0x1234' } } })],
        ['a numeric value', encodePaymentSignatureHeader({ ...good, payload: { ...good.payload,
            authorization: { ...good.payload.authorization, value: 500010 } } })],
        ['huge', 'A'.repeat(7000)],
    ];
    for (const [what, header] of malformed) {
        const res = await post(BODY, { 'PAYMENT-SIGNATURE': header });
        const out = await res.json();
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(out)}`);
        assert.equal(out.error.code, 'invalid_payment_header', what);
    }

    // a good payment with a bad SSH key: 400 before anything
    const res = await post({ ...BODY, ssh_public_key: 'ssh-ed25519 !!!' },
        { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(good) });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, 'bad_ssh_key');

    assert.equal(payJobs().length, 2);
    assert.equal(payKeys(), 2);
    assert.equal(s.redis('EXISTS', `axon:x402:pay:${good.payload.authorization.nonce}`), '(integer) 0');
});

test('no settlement within axon_x402_wait: 202 with the payment id, the token and the status URL; GET it: its states to anyone, the rest to the payer', async () => {
    const p = await payload();
    const nonce = p.payload.authorization.nonce;
    const res = await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) }, short('/api/x402/session'));
    const out = await res.json();
    assert.equal(res.status, 202, JSON.stringify(out));
    assert.equal(out.payment_id, nonce);
    assert.equal(out.status, 'pending');
    assert.equal(out.status_url, `/api/x402/payment/${nonce}`);
    assert.match(out.auth_token, /^[A-Za-z0-9_-]{43}$/);
    assert.match(out.message, /once the payment has settled/);
    assert.equal(payJobs().length, 3);
    const job = payJobs().find(j => j.nonce === nonce);
    const bearer = { headers: { authorization: `Bearer ${out.auth_token}` } };

    // pending: the token works nowhere yet; the status shows the state only
    assert.equal((await s.json('/api/session', bearer)).status, 401);
    for (const opts of [{}, bearer]) {
        const st = await s.json(out.status_url, opts);
        assert.equal(st.status, 200);
        assert.deepEqual(st.body.payment, { state: 'pending' });
        assert.equal(st.body.session, null);
    }

    // the worker settles and starts the session
    sessionId++;
    s.redis('HSET', `axon:session:${sessionId}`, 'id', String(sessionId), 'wallet', payer.address.toLowerCase(),
        'profile', 'small', 'mode', 'ssh', 'gpus', '1', 'state', 'running',
        'connect_host', '127.0.0.1', 'connect_port', '2223', 'connect_user', 'aXonian');
    workerSettles(`axon:x402:pay:${nonce}`, job, 'transaction', `0x${'cd'.repeat(32)}`,
        'session_id', String(sessionId));

    // anyone (the nonce is public on chain once settled): the states, no
    // coordinates, no payer, no token; so is another wallet's token
    const { token: otherToken } = await s.signIn(new (await import('ethers')).Wallet(s.chain.demo_wallets[1].private_key));
    for (const opts of [{}, { headers: { authorization: 'Bearer nonsense' } },
        { headers: { authorization: `Bearer ${otherToken}` } }]) {
        const st = await s.json(out.status_url, opts);
        assert.equal(st.status, 200);
        assert.deepEqual(st.body.payment, { state: 'settled' });
        assert.deepEqual(st.body.session, { status: 'running' });
        assert.match(st.body.message, /Bearer/);
        assert.deepEqual(Object.keys(st.body).sort(), ['message', 'payment', 'session']);
        assert.doesNotMatch(JSON.stringify(st.body), /2223|aXonian|0x/);
    }

    // the payer, with the payment's token: everything
    let st = await s.json(out.status_url, bearer);
    assert.deepEqual([st.body.payment.state, st.body.payment.payer, st.body.payment.profile,
        st.body.payment.minutes, st.body.payment.amount], ['settled', payer.address.toLowerCase(), 'small', 30,
        String(30n * PRICE)]);
    assert.equal(st.body.payment.session_id, sessionId);
    assert.equal(st.body.session.session_id, sessionId);
    assert.equal(st.body.session.status, 'running');
    assert.deepEqual(st.body.session.connect, { host: '127.0.0.1', port: '2223', user: 'aXonian' });
    // ... or with a sign-in's token of the paying wallet
    const { token: signedIn } = await s.signIn(new (await import('ethers')).Wallet(s.chain.demo_wallets[0].private_key));
    st = await s.json(out.status_url, { headers: { authorization: `Bearer ${signedIn}` } });
    assert.deepEqual(st.body.session.connect, { host: '127.0.0.1', port: '2223', user: 'aXonian' });

    // unknown or malformed ids
    assert.equal((await s.json(`/api/x402/payment/0x${'0'.repeat(64)}`)).status, 404);
    assert.equal((await s.json('/api/x402/payment/12')).body.error.code, 'unknown_payment');
});

test('a settlement that failed: 402 with PAYMENT-RESPONSE {success: false, errorReason}', async () => {
    const pending = agent()(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(BODY),
        headers: { 'content-type': 'application/json' } });
    const jobsNow = await waitFor(() => payJobs().length === 4 && payJobs(), 'the fourth x402.pay job');
    const nonce = jobsNow[3].nonce;
    s.redis('HSET', `axon:x402:pay:${nonce}`, 'state', 'failed',
        'error_reason', 'invalid_exact_evm_insufficient_balance');
    const res = await pending;
    const out = await res.json();
    assert.equal(res.status, 402, JSON.stringify(out));
    assert.equal(out.error.code, 'invalid_exact_evm_insufficient_balance');
    const settle = decodePaymentResponseHeader(res.headers.get('PAYMENT-RESPONSE'));
    assert.deepEqual(settle, { success: false, errorReason: 'invalid_exact_evm_insufficient_balance',
        transaction: '', network: NETWORK, payer: payer.address });
});

test('a top-up names its session: session_id in the record and the job; the SSH key may be left out', async () => {
    const body = { profile: 'small', minutes: 60, session_id: sessionId };
    const p = await payload(body);
    assert.equal(p.accepted.amount, String(60n * PRICE));
    const res = await post(body, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) }, short('/api/x402/session'));
    assert.equal(res.status, 202, await res.clone().text());
    const job = payJobs().find(j => j.nonce === p.payload.authorization.nonce);
    assert.deepEqual([job.session_id, job.ssh_key, job.minutes, job.amount],
        [String(sessionId), '', '60', String(60n * PRICE)]);
    assert.equal(execHash(`axon:x402:pay:${job.nonce}`).session_id, String(sessionId));
});

// the SDK pays BODY on the main server (axon_x402_wait 20s); the x402.pay job it queued
async function paying(body = BODY) {
    const seen = new Set(payJobs().map(j => j.nonce));
    const pending = agent()(s.url('/api/x402/session'), { method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' } });
    const job = await waitFor(() => payJobs().find(j => !seen.has(j.nonce)), 'a new x402.pay job');
    return { pending, job, key: `axon:x402:pay:${job.nonce}` };
}

// settled, credited, no session: answered at once (the 20s wait would end in 202),
// PAYMENT-RESPONSE says it settled, the body says where the credit is and how to use it
async function unstarted(res, status, code, job, tx) {
    const out = await res.json();
    assert.equal(res.status, status, JSON.stringify(out));
    assert.equal(out.error.code, code);
    assert.equal(out.payment_id, job.nonce);
    assert.equal(out.transaction, tx);
    assert.match(out.auth_token, /^[A-Za-z0-9_-]{43}$/);
    assert.match(out.error.message, /settled and credited to wallet 0x[0-9a-fA-F]{40} as 30 credit minutes/);
    assert.match(out.error.message, /POST \/api\/session/);
    assert.match(out.error.message, /Bearer/);
    const settle = decodePaymentResponseHeader(res.headers.get('PAYMENT-RESPONSE'));
    assert.deepEqual(settle, { success: true, transaction: tx, network: NETWORK, payer: payer.address });
    // the token is the payer's: it starts a session with the credit (here: the claim script's answer)
    const me = await s.json('/api/session', { headers: { authorization: `Bearer ${out.auth_token}` } });
    assert.notEqual(me.status, 401, JSON.stringify(me.body));
    return out;
}

test('settled but no session started (the worker\'s session_error): 503 session_not_started or 409, at once, with the credit and the token', async () => {
    for (const [error, status, code] of [
        ['no_host_fits', 503, 'session_not_started'],
        ['launch_failed', 503, 'session_not_started'],
        ['session_exists', 409, 'session_exists'],
    ]) {
        const { pending, job, key } = await paying();
        const tx = `0x${'ef'.repeat(31)}${String(status).slice(0, 2)}`;
        workerSettles(key, job, 'transaction', tx, 'settled_at', String(Math.floor(Date.now() / 1000)),
            'credit', '30', 'session_error', error);
        const out = await unstarted(await pending, status, code, job, tx);
        assert.equal(out.credit_minutes, 30, error);
        assert.equal(out.session_error, error);
        assert.equal(out.session_id, undefined);
        if (status === 503) assert.match(out.error.message, new RegExp(`\\(${error}\\)`));
        else assert.match(out.error.message, /already has a live session/);

        // the status URL shows the payer the credit and the error
        const st = await s.json(`/api/x402/payment/${job.nonce}`,
            { headers: { authorization: `Bearer ${out.auth_token}` } });
        assert.equal(st.body.payment.state, 'settled');
        assert.equal(st.body.payment.credit, 30);
        assert.equal(st.body.payment.session_error, error);
        assert.equal(st.body.session, null);
    }
});

test('settled, but the session ended before it ran: 503 session_not_started with its end_reason and session_id', async () => {
    const { pending, job, key } = await paying();
    const tx = `0x${'12'.repeat(32)}`;
    const id = 9100;
    // the worker claimed a session, its launch failed: ended
    s.redis('HSET', `axon:session:${id}`, 'id', String(id), 'wallet', job.payer, 'profile', 'small',
        'mode', 'ssh', 'gpus', '1', 'state', 'ended', 'end_reason', 'launch_failed');
    workerSettles(key, job, 'transaction', tx, 'credit', '30', 'session_id', String(id));
    const out = await unstarted(await pending, 503, 'session_not_started', job, tx);
    assert.equal(out.session_id, id);
    assert.equal(out.end_reason, 'launch_failed');
    assert.equal(out.session_error, undefined);
    assert.match(out.error.message, /\(launch_failed\)/);
    const st = await s.json(`/api/x402/payment/${job.nonce}`,
        { headers: { authorization: `Bearer ${out.auth_token}` } });
    assert.equal(st.body.payment.credit, 30);
    assert.equal(st.body.payment.session_error, undefined);
    assert.equal(st.body.session.status, 'ended');
    assert.equal(st.body.session.end_reason, 'launch_failed');
});

test('a top-up whose session ended meanwhile (the worker\'s session_ended): 409 session_ended with the credit', async () => {
    const { pending, job, key } = await paying({ profile: 'small', minutes: 30, session_id: sessionId });
    assert.equal(job.session_id, String(sessionId));
    const tx = `0x${'34'.repeat(32)}`;
    workerSettles(key, job, 'transaction', tx, 'credit', '30', 'session_error', 'session_ended');
    const out = await unstarted(await pending, 409, 'session_ended', job, tx);
    assert.equal(out.session_id, sessionId);
    assert.equal(out.credit_minutes, 30);
    assert.match(out.error.message, /has ended/);
});

test('bounds of the payments waiting for settlement: 429 per payer, 503 in all, with Retry-After; nothing recorded past them', async () => {
    s.redisPipe([`EVAL "for _, k in ipairs(redis.call('KEYS', 'axon:x402:pending*')) do redis.call('DEL', k) end" 0`]);
    const cap = path => `http://127.0.0.1:${capPort}${path}`;
    const payAs = async account => {
        const { pr } = await required(await post(BODY));
        const p = await client(account).createPaymentPayload(pr);
        return post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) }, cap('/api/x402/session'));
    };
    const fresh = async () => privateKeyToAccount((await import('viem/accounts')).generatePrivateKey());
    const counts = () => [payJobs().length, payKeys()];

    const a = await fresh();
    for (let i = 0; i < 2; i++) assert.equal((await payAs(a)).status, 202);
    let before = counts();
    let res = await payAs(a);
    assert.equal(res.status, 429, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), '10');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    let out = await res.json();
    assert.equal(out.error.code, 'too_many_pending');
    assert.match(out.error.message, /nothing was charged/);
    assert.deepEqual(counts(), before);

    const b = await fresh();
    assert.equal((await payAs(b)).status, 202);
    before = counts();
    res = await payAs(b);
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), '10');
    out = await res.json();
    assert.equal(out.error.code, 'x402_busy');
    assert.deepEqual(counts(), before);

    // the worker finishes one (settled or failed): room again
    const nonce = s.redis('ZRANGE', 'axon:x402:pending', '0', '0').replace(/^1\) /, '').replace(/"/g, '');
    s.redis('ZREM', 'axon:x402:pending', nonce);
    assert.equal((await payAs(b)).status, 202);
});

// The answer after the wait, to a client that reads slowly (here: nginx's
// limit_rate, so the first write cannot take it all): sent whole, once,
// the rest as the client reads, not written again at the next poll
test('a paid request\'s answer that cannot be written at once: sent whole, once', async () => {
    const p = await payload();
    const res = await post(BODY, { 'PAYMENT-SIGNATURE': encodePaymentSignatureHeader(p) },
        `http://127.0.0.1:${slowPort}/api/x402/session`);
    const text = await res.text();
    assert.equal(res.status, 202, text);
    const out = JSON.parse(text);
    assert.equal(out.payment_id, p.payload.authorization.nonce);
    assert.equal(out.status, 'pending');
    assert.doesNotMatch(s.log('nginx-error.log'), /header already sent|\[alert\]/);
});
