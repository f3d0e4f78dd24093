// Print a JSON array of EIP-3009 / EIP-712 vectors made at run time, for
// t/unit/test_eip712.c: authorizations signed by ethers v6
// (Wallet.signTypedData) and by the x402 SDK's own EVM client (@x402/evm
// ExactEvmScheme with a viem account: the code agents pay with), with the
// domain separator, struct hash and digest ethers computes.  Fresh random
// wallets, domains and fields each run.
//
// Each object:
//   name           case name, printed by the C test on failure
//   kind           "transfer" (TransferWithAuthorization) or "receive"
//   domain         {name, version, chainId (number), verifyingContract}
//   message        {from, to, value, validAfter, validBefore, nonce}: the
//                  uint256 fields as decimal strings, as x402 sends them
//   signature      "0x" + r || s || v (or a mangled copy)
//   signer         the EIP-55 address that signed
//   domain_separator, struct_hash, digest   "0x" + 64 hex, from ethers
//   expect         "ok"        recovery gives signer
//                  "mismatch"  recovery succeeds with another address
//                  otherwise   the axon_strerror() code recovery fails with
//
// usage: node t/js/eip712-vectors.mjs [N] > build/eip712-vectors.json

import { Signature, TypedDataEncoder, Wallet, getAddress, hexlify, randomBytes, verifyTypedData } from 'ethers';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { privateKeyToAccount } from 'viem/accounts';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const n = Number(process.argv[2] || 16);

const FIELDS = [
    { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
];
const TYPES = {
    transfer: { TransferWithAuthorization: FIELDS },
    receive: { ReceiveWithAuthorization: FIELDS },
};
const DOMAINS = [['USD Coin', '2'], ['USDC', '2'], ['Bridged USDC (axon) \u00e9\u20ac', '1.0.0-\u03b2'], ['', '']];
const CHAINS = [1337, 1, 8453, 84532, 2 ** 53 - 1];

const rand = a => a[Math.floor(Math.random() * a.length)];
const randAddr = () => getAddress(hexlify(randomBytes(20)));
const randU256 = bytes => BigInt(hexlify(randomBytes(bytes)));

function check(cond, what) {
    if (!cond) throw new Error('eip712-vectors: self check failed: ' + what);
}

function hashes(kind, domain, m) {
    const typed = TypedDataEncoder.from(TYPES[kind]);
    return {
        domain_separator: TypedDataEncoder.hashDomain(domain),
        struct_hash: typed.hash(m),
        digest: TypedDataEncoder.hash(domain, TYPES[kind], m),
    };
}

const str = m => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));

const out = [];

function push(name, kind, domain, m, signature, signer, expect) {
    out.push({ name, kind, domain, message: str(m), signature, signer, ...hashes(kind, domain, m), expect });
}

for (let i = 0; i < n; i++) {
    const w = Wallet.createRandom();
    const kind = i % 4 === 3 ? 'receive' : 'transfer';
    const [dn, dv] = rand(DOMAINS);
    const domain = { name: dn, version: dv, chainId: rand(CHAINS), verifyingContract: randAddr() };
    const m = {
        from: w.address, to: randAddr(),
        value: [0n, 1n, 2n ** 256n - 1n][i % 8] ?? randU256(1 + (i % 32)),
        validAfter: i % 2 ? 0n : randU256(4), validBefore: randU256(i % 3 ? 4 : 32),
        nonce: hexlify(randomBytes(32)),
    };
    const sig = await w.signTypedData(domain, TYPES[kind], m);
    check(verifyTypedData(domain, TYPES[kind], m, sig) === w.address, 'ethers recovers its own signer');
    push(`ethers ${i} ${kind}`, kind, domain, m, sig, w.address, 'ok');

    if (i < 4) {
        // the same signature over altered fields: someone else, or nobody
        push(`ethers ${i} value+1`, kind, domain, { ...m, value: (m.value + 1n) % 2n ** 256n }, sig, w.address, 'mismatch');
        push(`ethers ${i} other chain`, kind, domain.chainId === 1 ? { ...domain, chainId: 2 } : { ...domain, chainId: 1 },
            m, sig, w.address, 'mismatch');
        const other = kind === 'transfer' ? 'receive' : 'transfer';
        push(`ethers ${i} as ${other}`, other, domain, m, sig, w.address, 'mismatch');

        // the malleable twin (s -> n - s, v flipped) is refused; bad lengths and digits
        const s = Signature.from(sig);
        const hs = (N - BigInt(s.s)).toString(16).padStart(64, '0');
        const hv = (s.v === 27 ? 28 : 27).toString(16);
        push(`ethers ${i} high s`, kind, domain, m, `0x${s.r.slice(2)}${hs}${hv}`, w.address, 'bad_signature_high_s');
        push(`ethers ${i} v=29`, kind, domain, m, sig.slice(0, 130) + '1d', w.address, 'bad_signature_v');
        push(`ethers ${i} short`, kind, domain, m, sig.slice(0, 130), w.address, 'bad_length');
        push(`ethers ${i} long`, kind, domain, m, sig + '00', w.address, 'bad_length');
        push(`ethers ${i} bad digit`, kind, domain, m, sig.slice(0, 20) + 'g' + sig.slice(21), w.address, 'bad_hex');
        // v as 0/1 (some signers write the y parity) recovers the same signer
        push(`ethers ${i} v parity`, kind, domain, m, sig.slice(0, 130) + (s.v === 27 ? '00' : '01'), w.address, 'ok');
    }
}

// the x402 SDK's client signs; ethers computes what the hashes must be
for (let i = 0; i < n; i++) {
    const key = hexlify(randomBytes(32));
    const account = privateKeyToAccount(key);
    const [dn, dv] = i === 0 ? ['USD Coin', '2'] : rand(DOMAINS.slice(0, 3));
    const chainId = rand(CHAINS);
    const requirements = {
        scheme: 'exact', network: `eip155:${chainId}`, asset: randAddr(),
        amount: randU256(1 + (i % 8)).toString(), payTo: randAddr(),
        maxTimeoutSeconds: 60 + i, extra: { name: dn, version: dv },
    };
    const { payload } = await new ExactEvmScheme(account).createPaymentPayload(2, requirements);
    const a = payload.authorization;
    const domain = { name: dn, version: dv, chainId, verifyingContract: getAddress(requirements.asset) };
    check(a.from === account.address && a.to === requirements.payTo && a.value === requirements.amount, 'sdk fields');
    check(verifyTypedData(domain, TYPES.transfer, a, payload.signature) === account.address, 'ethers recovers the sdk signer');
    const m = { ...a, value: BigInt(a.value), validAfter: BigInt(a.validAfter), validBefore: BigInt(a.validBefore) };
    push(`x402 sdk ${i}`, 'transfer', domain, m, payload.signature, account.address, 'ok');
}

process.stdout.write(JSON.stringify(out, null, 1) + '\n');
