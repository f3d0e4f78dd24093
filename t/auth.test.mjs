// Wallet sign-in (EIP-4361 challenge; verify comes next): real nginx with
// the module, real Redis, ethers wallets as the client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

const s = new Stack();
before(() => s.start());
after(() => s.stop());

const challenge = addr => s.json(`/api/auth/challenge?address=${encodeURIComponent(addr)}`);

test('challenge: an EIP-4361 message for the address, nonce kept in Redis', async () => {
    const w = Wallet.createRandom();
    const { status, body } = await challenge(w.address.toLowerCase());
    assert.equal(status, 200);
    assert.equal(body.address, w.address, 'EIP-55 form');
    assert.match(body.nonce, /^[0-9a-f]{32}$/, '128-bit nonce');
    const host = `127.0.0.1:${s.port}`;
    const lines = body.message.split('\n');
    assert.equal(lines[0], `${host} wants you to sign in with your Ethereum account:`);
    assert.equal(lines[1], w.address);
    assert.ok(lines.includes(`URI: http://${host}/`));
    assert.ok(lines.includes('Version: 1'));
    assert.ok(lines.includes('Chain ID: 1337'));
    assert.ok(lines.includes(`Nonce: ${body.nonce}`));
    assert.ok(lines.includes(`Issued At: ${body.issued_at}`));
    assert.ok(lines.includes(`Expiration Time: ${body.expires_at}`));
    const life = Date.parse(body.expires_at) - Date.parse(body.issued_at);
    assert.equal(life, 5 * 60 * 1000, 'default lifetime 5 minutes');

    assert.equal(s.redis('--raw', 'GET', `axon:challenge:${body.nonce}`), w.address.toLowerCase());
    const ttl = Number(s.redis('--raw', 'PTTL', `axon:challenge:${body.nonce}`));
    assert.ok(ttl > 0 && ttl <= 300000, `ttl ${ttl}`);
});

test('each challenge has its own nonce', async () => {
    const w = Wallet.createRandom();
    const a = await challenge(w.address);
    const b = await challenge(w.address);
    assert.notEqual(a.body.nonce, b.body.nonce);
});

for (const [what, addr, code] of [
    ['too short', '0x1234', 'bad_address'],
    ['not hex', '0x' + 'g'.repeat(40), 'bad_address'],
    ['no 0x', 'a'.repeat(40), 'bad_address'],
    ['a wrong checksum', '0x90F8bf6A479f320ead074411a4B0e7944Ea8c9c1', 'bad_address'],
    ['empty', '', 'bad_address'],
]) {
    test(`challenge with an address ${what} -> 400`, async () => {
        const { status, body } = await challenge(addr);
        assert.equal(status, 400);
        assert.equal(body.error.code, code);
    });
}

test('challenge without the address argument -> 400', async () => {
    const { status, body } = await s.json('/api/auth/challenge');
    assert.equal(status, 400);
    assert.equal(body.error.code, 'bad_address');
});

test('challenge while Redis is down -> 503 at once; back with no reload', async () => {
    const w = Wallet.createRandom();
    await s.stack('stop', 'redis');
    const r = await waitFor(async () => {
        const x = await challenge(w.address);
        return x.status === 503 && x;
    }, 'challenge 503');
    assert.equal(r.body.error.code, 'redis_unavailable');
    await s.startRedis();
    await waitFor(async () => (await challenge(w.address)).status === 200, 'challenge 200');
});

// ---- verify-wallet ---------------------------------------------------------

import { createHash, randomBytes } from 'node:crypto';
import { Signature } from 'ethers';

const N = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

const verify = payload => s.json('/api/auth/verify-wallet', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
});

async function signedChallenge(w = Wallet.createRandom()) {
    const { body } = await challenge(w.address);
    return { w, message: body.message, signature: await w.signMessage(body.message), nonce: body.nonce };
}

// A message of our own making, with its nonce planted in Redis as the
// gate would have: for the checks a real challenge cannot reach.
function siwe(o) {
    const host = `127.0.0.1:${s.port}`;
    return [
        `${o.domain ?? host} wants you to sign in with your Ethereum account:`,
        o.address, '', 'Sign in to the axon GPU gate.', '',
        `URI: ${o.uri ?? `http://${host}/`}`, 'Version: 1',
        `Chain ID: ${o.chainId ?? 1337}`, `Nonce: ${o.nonce}`,
        `Issued At: ${o.issuedAt ?? new Date(Date.now() - 1000).toISOString()}`,
        `Expiration Time: ${o.expirationTime ?? new Date(Date.now() + 60000).toISOString()}`,
    ].join('\n');
}

async function planted(o = {}, w = Wallet.createRandom()) {
    const nonce = randomBytes(16).toString('hex');
    s.redis('SET', `axon:challenge:${nonce}`, w.address.toLowerCase(), 'PX', '60000');
    const message = siwe({ address: w.address, nonce, ...o });
    return { w, nonce, message, signature: await w.signMessage(message) };
}

test('sign-in end to end: token, EIP-55 wallet, cookie, hash in Redis, audit row in Postgres', async () => {
    const { w, message, signature, nonce } = await signedChallenge();
    const r = await verify({ message, signature });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.token, /^[A-Za-z0-9_-]{43}$/, '256-bit base64url token');
    assert.equal(r.body.wallet, w.address);
    const life = Date.parse(r.body.expires_at) - Date.now();
    assert.ok(life > 11 * 3600e3 && life <= 12 * 3600e3, 'default lifetime 12h');

    const cookie = r.headers.get('set-cookie');
    assert.match(cookie, new RegExp(`^axon_token=${r.body.token}; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax$`));

    const hash = createHash('sha256').update(r.body.token).digest('hex');
    const stored = JSON.parse(s.redis('--raw', 'GET', `axon:token:${hash}`));
    assert.equal(stored.wallet, w.address.toLowerCase());
    assert.equal(s.redis('--raw', 'EXISTS', `axon:challenge:${nonce}`), '0', 'nonce consumed');

    // the worker takes the auth.signin job and writes the audit row and
    // the token's hash (never the token) to Postgres
    const addr = w.address.toLowerCase();
    const row = await waitFor(() => {
        const q = s.psql(`SELECT a.address, a.nonce, a.outcome, host(a.client_ip), encode(t.token_hash, 'hex'),
                                 t.expires_at > now() + interval '11 hours'
                            FROM signin_audit a JOIN auth_tokens t ON t.wallet = a.address
                           WHERE a.address = '${addr}'`);
        return q.ok && q.out;
    }, 'the sign-in in Postgres');
    assert.equal(row, `${addr}|${nonce}|ok|127.0.0.1|${hash}|t`);
    const dump = s.psql(`SELECT * FROM signin_audit, auth_tokens WHERE address = '${addr}'`).out;
    assert.doesNotMatch(dump, new RegExp(r.body.token), 'the token itself is never stored');
    assert.doesNotMatch(s.log('nginx-error.log'), new RegExp(r.body.token), 'nor logged');
});

test('a replayed nonce is refused', async () => {
    const p = await signedChallenge();
    assert.equal((await verify(p)).status, 200);
    const again = await verify(p);
    assert.equal(again.status, 401);
    assert.equal(again.body.error.code, 'unknown_nonce');
});

test('the same nonce in 12 concurrent requests: exactly one token', async () => {
    const p = await signedChallenge();
    const all = await Promise.all(Array.from({ length: 12 }, () => verify(p)));
    assert.equal(all.filter(r => r.status === 200).length, 1);
    for (const r of all.filter(r => r.status !== 200)) {
        assert.equal(r.status, 401);
        assert.equal(r.body.error.code, 'unknown_nonce');
    }
});

const refusals = [
    ['an expired challenge', { expirationTime: new Date(Date.now() - 1000).toISOString() }, 'expired'],
    ['a challenge issued in the future', { issuedAt: new Date(Date.now() + 600000).toISOString() }, 'not_yet_valid'],
    ['another domain', { domain: 'evil.example' }, 'domain_mismatch'],
    ['another scheme before the domain', { domain: `https://127.0.0.1:PORT` }, 'domain_mismatch'],
    ['another URI', { uri: 'http://evil.example/' }, 'uri_mismatch'],
    ['another chain id', { chainId: 1 }, 'chain_mismatch'],
];

for (const [what, fields, code] of refusals) {
    test(`sign-in with ${what} -> 401 ${code}`, async () => {
        const o = fields.domain ? { ...fields, domain: fields.domain.replace('PORT', s.port) } : fields;
        const p = await planted(o);
        const r = await verify({ message: p.message, signature: p.signature });
        assert.equal(r.status, 401);
        assert.equal(r.body.error.code, code);
        assert.equal(s.redis('--raw', 'EXISTS', `axon:challenge:${p.nonce}`), '1', 'nonce not burnt');
    });
}

test('a message for another address, signed by this wallet -> wrong_signer', async () => {
    const other = Wallet.createRandom();
    const p = await planted({}, other);
    const w = Wallet.createRandom();
    const r = await verify({ message: p.message, signature: await w.signMessage(p.message) });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'wrong_signer');
});

// someone who learns a pending nonce cannot spend it for another wallet,
// nor so cancel its owner's sign-in
test('a nonce issued for another address -> unknown_nonce; its owner still signs in with it', async () => {
    const p = await planted();
    const b = Wallet.createRandom();
    const stolen = siwe({ address: b.address, nonce: p.nonce });
    const r = await verify({ message: stolen, signature: await b.signMessage(stolen) });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unknown_nonce');
    assert.equal(s.redis('--raw', 'EXISTS', `axon:challenge:${p.nonce}`), '1', 'nonce not burnt');
    const own = await verify({ message: p.message, signature: p.signature });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.wallet, p.w.address);
});

test('a tampered message -> wrong_signer', async () => {
    const p = await signedChallenge();
    const message = p.message.replace('Sign in to', 'Sign in 2');
    const r = await verify({ message, signature: p.signature });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'wrong_signer');
});

test('a message that is not EIP-4361 -> bad_message', async () => {
    const w = Wallet.createRandom();
    const r = await verify({ message: 'hello', signature: await w.signMessage('hello') });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'bad_message');
});

test('signature variants: high-s, bad v, wrong length, garbage', async () => {
    const p = await signedChallenge();
    const sig = Signature.from(p.signature);
    const highS = '0x' + sig.r.slice(2) + (N - BigInt(sig.s)).toString(16).padStart(64, '0')
        + (sig.v === 27 ? '1c' : '1b');
    const cases = [
        [highS, 'bad_signature_high_s'],
        [p.signature.slice(0, -2) + '1d', 'bad_signature_v'],
        [p.signature.slice(0, -2), 'bad_signature_length'],
        ['0x' + 'zz'.repeat(65), 'bad_signature_hex'],
    ];
    for (const [signature, code] of cases) {
        const r = await verify({ message: p.message, signature });
        assert.equal(r.status, 401, code);
        assert.equal(r.body.error.code, code);
    }
    // none of them burnt the nonce: the real signature still works
    assert.equal((await verify(p)).status, 200);
});

test('missing fields, bad JSON, oversized body, wrong method', async () => {
    let r = await verify({ message: 'x' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'bad_request');
    r = await verify({ message: 1, signature: 2 });
    assert.equal(r.status, 400);
    r = await verify('{"message": ');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'bad_json');
    r = await verify('[]');
    assert.equal(r.body.error.code, 'bad_json');
    r = await verify({ message: 'x'.repeat(20000), signature: '0x' });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'body_too_large');
    r = await s.json('/api/auth/verify-wallet');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
});

test('verify while Redis is down -> 503; back up, sign-in works without a reload', async () => {
    const p = await signedChallenge();
    await s.stack('stop', 'redis');
    await waitFor(async () => (await verify(p)).status === 503, 'verify 503');
    await s.startRedis();
    // the challenge survived the restart (append-only file)
    await waitFor(async () => (await verify(p)).status === 200, 'verify 200 after restart');
});
