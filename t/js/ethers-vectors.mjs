// Print a JSON array of personal_sign vectors made by ethers v6 at run time,
// for t/unit/test_eth.c (--vectors FILE).  Every call uses fresh random
// wallets, so each run checks the C code against new signatures.
//
// Each object:
//   name        case name, printed by the C test on failure
//   message     the signed text (UTF-8), or
//   message_hex the signed bytes, "0x" + hex (for non-text messages)
//   signature   "0x" + r || s || v as ethers prints it (or a mangled copy)
//   address     EIP-55 address of the signer (ethers getAddress)
//   expect      "ok"        recovery must succeed and give address
//               "mismatch"  recovery must succeed and give another address
//               otherwise   an axon_strerror() code the recovery must fail with
//   hash        (optional) ethers hashMessage(message), the EIP-191 digest
//   pubkey      (optional) uncompressed public key "0x04" + X || Y, with
//               address == computeAddress(pubkey)
//
// usage: node t/js/ethers-vectors.mjs [NWALLETS] > build/ethers-vectors.json

import {
    Wallet, computeAddress, getAddress, hashMessage, hexlify, randomBytes,
    toUtf8Bytes, verifyMessage
} from 'ethers';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const nwallets = Number(process.argv[2] || 24);

function check(cond, what) {
    if (!cond) {
        throw new Error('ethers-vectors: self check failed: ' + what);
    }
}

function hex32(x) {
    return x.toString(16).padStart(64, '0');
}

// split "0x" + 130 hex into { r, s, v } (bigint, bigint, number)
function split(sig) {
    check(/^0x[0-9a-f]{130}$/.test(sig), 'signature shape ' + sig);
    return {
        r: BigInt('0x' + sig.slice(2, 66)),
        s: BigInt('0x' + sig.slice(66, 130)),
        v: parseInt(sig.slice(130, 132), 16)
    };
}

function join(r, s, v) {
    return '0x' + hex32(r) + hex32(s) + v.toString(16).padStart(2, '0');
}

function randomAscii(len) {
    const b = randomBytes(len);
    let s = '';

    for (let i = 0; i < len; i++) {
        s += String.fromCharCode(0x20 + (b[i] % 95));
    }

    return s;
}

function siwe(address) {
    return 'axon.example wants you to sign in with your Ethereum account:\n'
        + address + '\n\n'
        + 'Sign in to axon. This request will not trigger a blockchain '
        + 'transaction or cost any gas fees.\n\n'
        + 'URI: https://axon.example/login\n'
        + 'Version: 1\n'
        + 'Chain ID: 8453\n'
        + 'Nonce: ' + hexlify(randomBytes(8)).slice(2) + '\n'
        + 'Issued At: ' + new Date().toISOString();
}

// message makers, used round-robin; each returns the value given to
// signMessage (a string, or a Uint8Array for raw bytes)
const makers = [
    () => 'hello world',
    () => '',
    () => 'h\u00e9llo w\u00f6rld \u2014 '                   // 2-, 3- and
        + '\u4f60\u597d\uff0c\u4e16\u754c \ud83d\ude80',      // 4-byte UTF-8
    (w) => siwe(w.address),
    () => 'axon '.repeat(240) + randomAscii(37),         // 1237 bytes
    () => randomAscii(107),   // prefix "\x19...:\n107" + 107 = 136 = rate
    () => randomAscii(106),
    () => randomAscii(108),
    () => randomAscii(1 + (randomBytes(1)[0] % 64)),
    () => randomBytes(32),                                // a raw digest
    () => 'nul \u0000 inside\r\nand\ttabs',
    () => '\ud83d\udd11'.repeat(300)                      // 1200 bytes UTF-8
];

function messageFields(m) {
    if (typeof m === 'string') {
        return { message: m };
    }

    return { message_hex: hexlify(m) };
}

const out = [];

for (let i = 0; i < nwallets; i++) {
    const w = Wallet.createRandom();
    const pubkey = w.signingKey.publicKey;
    const address = getAddress(w.address);
    const tag = 'w' + String(i).padStart(2, '0');

    check(computeAddress(pubkey) === address, 'computeAddress ' + tag);

    for (let j = 0; j < 2; j++) {
        const k = (2 * i + j) % makers.length;
        const m = makers[k](w);
        const sig = await w.signMessage(m);
        const { r, s, v } = split(sig);
        const base = tag + ' msg' + k;
        const msg = messageFields(m);
        const bad = (name, signature, expect) => out.push({
            name: base + ' ' + name, ...msg, signature, address, expect
        });

        check(v === 27 || v === 28, 'v ' + base);
        check(2n * s <= N, 'low s ' + base);
        check(verifyMessage(m, sig) === address, 'verifyMessage ' + base);

        out.push({
            name: base + ' v=' + v, ...msg, signature: sig, address,
            expect: 'ok', hash: hashMessage(m),
            ...(j === 0 ? { pubkey } : {})
        });

        bad('v=' + (v - 27), join(r, s, v - 27), 'ok');

        // EIP-2: the same signature with s' = n - s and the other parity
        // is valid on the curve but must be refused
        bad('high-s', join(r, N - s, v === 27 ? 28 : 27),
            'bad_signature_high_s');
        bad('high-s v01', join(r, N - s, v === 27 ? 1 : 0),
            'bad_signature_high_s');

        bad('v=29', join(r, s, 29), 'bad_signature_v');
        bad('v=26', join(r, s, 26), 'bad_signature_v');
        bad('v=2', join(r, s, 2), 'bad_signature_v');
        bad('v=255', join(r, s, 255), 'bad_signature_v');

        bad('r=0', join(0n, s, v), 'bad_signature');
        bad('s=0', join(r, 0n, v), 'bad_signature');
        bad('r=n', join(N, s, v), 'bad_signature');
        bad('r=n+1', join(N + 1n, s, v), 'bad_signature');
        bad('s=n', join(r, N, v), 'bad_signature');
        // 5^3 + 7 is not a square mod p: no curve point has x = 5
        bad('r off curve', join(5n, s, v), 'bad_signature');

        bad('short', sig.slice(0, 130), 'bad_length');
        bad('long', sig + '00', 'bad_length');
        bad('empty', '', 'bad_length');
        bad('bad hex', sig.slice(0, 40) + 'g' + sig.slice(41), 'bad_hex');
        bad('upper', '0x' + sig.slice(2).toUpperCase(), 'ok');
        bad('no 0x', sig.slice(2), 'ok');

        // a valid signature of something else, or the other parity:
        // recovery works but names someone else
        bad('parity flipped', join(r, s, v === 27 ? 28 : 27), 'mismatch');
        out.push({
            name: base + ' other message',
            ...messageFields(typeof m === 'string'
                             ? m + '!' : new Uint8Array([...m, 0x21])),
            signature: sig, address, expect: 'mismatch'
        });
    }
}

process.stdout.write(JSON.stringify(out, null, 1) + '\n');
