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
    await s.stack('start', 'redis');
    await waitFor(async () => (await challenge(w.address)).status === 200, 'challenge 200');
});
