// Writes the seed corpora of t/fuzz/corpus/ that are signed: a SIWE message
// and its signature, x402 payment headers (the SDK's encoding of a payload
// signed by ethers), a signed EIP-1559 transaction, and the module's JSON
// bodies.  Run once by hand (node t/fuzz/seeds.mjs); the files are
// committed, so neither make fuzz nor CI runs it.  Fixed keys and times: a
// run writes the same bytes.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wallet, Transaction, getBytes } from 'ethers';
import { encodePaymentSignatureHeader } from '@x402/core/http';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
const put = (target, name, data) => {
    mkdirSync(join(dir, target), { recursive: true });
    writeFileSync(join(dir, target, name), data);
};

// ganache's first deterministic accounts
const payer = new Wallet('0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d');
const payTo = '0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0';
const usdc = '0xe78A0F7E598Cc8b0Bb87894B0F60dD2a88d6a8Ab';

// SIWE: message NUL signature (fuzz_siwe's input)
const siwe = [
    '127.0.0.1:6080 wants you to sign in with your Ethereum account:',
    payer.address,
    '',
    'Sign in to axon',
    '',
    'URI: http://127.0.0.1:6080',
    'Version: 1',
    'Chain ID: 1337',
    'Nonce: 6f1c9e0b2a7d4c3e',
    'Issued At: 2026-11-23T09:29:48Z',
    'Expiration Time: 2026-11-23T09:34:48.250+02:00',
    'Not Before: 2026-11-23T09:29:48Z',
    'Request ID: 42',
    'Resources:',
    '- https://127.0.0.1:6080/api/session',
].join('\n');
const siweSig = await payer.signMessage(siwe);
put('siwe', 'signed', siwe + '\0' + siweSig);
put('hex_sig', 'personal_sign', siweSig + '\0' + siwe);

// x402: version 2, as the SDK's client makes it
const auth = {
    from: payer.address, to: payTo, value: '500000', validAfter: '0',
    validBefore: '1795000000',
    nonce: '0xf3b7068659d531cbc18f36a0e843888a3926f85928de7c9136d39c5373bf5a07',
};
const TWA = { TransferWithAuthorization: [
    { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
] };
const domain = { name: 'USD Coin', version: '2', chainId: 1337, verifyingContract: usdc };
const signature = await payer.signTypedData(domain, TWA, auth);
const accepted = {
    scheme: 'exact', network: 'eip155:1337', asset: usdc, amount: '500000',
    payTo, maxTimeoutSeconds: 300, extra: { name: 'USD Coin', version: '2' },
};
const v2 = {
    x402Version: 2,
    resource: { url: 'http://127.0.0.1:6080/api/x402/session', description: 'small, 30 minutes', mimeType: 'application/json' },
    accepted, payload: { authorization: auth, signature },
};
put('x402', 'v2', encodePaymentSignatureHeader(v2));
put('x402', 'v1', Buffer.from(JSON.stringify({
    x402Version: 1, scheme: 'exact', network: 'eip155:1337',
    payload: { authorization: auth, signature },
})).toString('base64'));

// EIP-712: fuzz_eip712's input is the fields, binary (see the harness)
const u256 = v => Buffer.from(BigInt(v).toString(16).padStart(64, '0'), 'hex');
put('eip712', 'usdc', Buffer.concat([
    Buffer.from([8, 1, 0]), Buffer.from('USD Coin2'),
    u256(1337).subarray(24), Buffer.from(getBytes(usdc)),
    Buffer.from(getBytes(auth.from)), Buffer.from(getBytes(auth.to)),
    u256(auth.value), u256(auth.validAfter), u256(auth.validBefore),
    Buffer.from(getBytes(auth.nonce)), Buffer.from(signature.slice(2), 'hex'),
]));

// RLP: a signed EIP-1559 transfer, as the gate's own wallet sends it
// (transferWithAuthorization's calldata cut short), without the 0x02 type
const tx = Transaction.from({
    type: 2, chainId: 1337, nonce: 7, maxPriorityFeePerGas: 1000000000n,
    maxFeePerGas: 2000000000n, gasLimit: 120000n, to: usdc, value: 0n,
    data: '0xe3ee160e' + '00'.repeat(12) + payer.address.slice(2).toLowerCase(),
});
tx.signature = payer.signingKey.sign(tx.unsignedHash);
put('rlp', 'signed_tx', Buffer.from(tx.serialized.slice(4), 'hex'));
put('rlp', 'unsigned_tx', Buffer.from(tx.unsignedSerialized.slice(4), 'hex'));

// the module's JSON bodies
const body = (name, o) => put('json_body', name, JSON.stringify(o));
body('verify_wallet', { message: siwe, signature: siweSig });
body('session', { profile: 'small', mode: 'ssh', ssh_public_key:
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM t' });
body('x402_session', { profile: 'small', minutes: 30, session_id: 12, ssh_public_key:
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM t' });
body('verify_deposit', { tx_hash: '0x' + 'ab'.repeat(32) });
body('release', { auth_token: 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5' });
body('x402_payload', v2);

// the worker's JSON-RPC client: OP, then a node's answers, NUL between them
// (fuzz_rpc's input; ids count from 1 in each run), as ganache answers
const rpc = (name, op, ...answers) => put('rpc', name, Buffer.concat([
    Buffer.from([op]), Buffer.from(answers.map(a => JSON.stringify(a)).join('\0')),
]));
const ok = (id, result) => ({ jsonrpc: '2.0', id, result });
const h = b => '0x' + b.repeat(32);
const block = n => ({
    number: '0x' + n.toString(16), hash: h((n % 10) + 'a'), parentHash: h(((n + 9) % 10) + 'a'),
    timestamp: '0x6921d2ac', baseFeePerGas: '0x3b9aca00', gasLimit: '0x1c9c380',
    transactions: [], miner: '0x0000000000000000000000000000000000000000',
});
const log = {
    address: usdc.toLowerCase(), blockNumber: '0x1b4', blockHash: h('ab'),
    transactionHash: tx.hash, transactionIndex: '0x0', logIndex: '0x0', removed: false,
    topics: ['0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef',
        '0x000000000000000000000000' + payer.address.slice(2).toLowerCase(),
        '0x000000000000000000000000' + payTo.slice(2).toLowerCase()],
    data: '0x' + (500000).toString(16).padStart(64, '0'),
};
rpc('block_number', 0x00, ok(1, '0x1b4'));
rpc('chain_then_block_number', 0x80, ok(1, '0x539'), ok(2, '0x1b4'));
rpc('blocks_batch', 0x29, [ok(2, block(6)), ok(1, block(5))]);
rpc('transaction', 0x02, ok(1, {
    hash: tx.hash, from: payer.address.toLowerCase(), to: usdc.toLowerCase(), nonce: '0x7',
    value: '0x0', blockNumber: '0x1b4', blockHash: h('ab'), transactionIndex: '0x0',
    input: tx.data, type: '0x2', chainId: '0x539',
}));
rpc('pending_transaction', 0x02, ok(1, {
    hash: tx.hash, from: payer.address.toLowerCase(), to: null, nonce: '0x7', value: '0xde0b6b3a7640000',
    blockNumber: null, blockHash: null, transactionIndex: null,
}));
rpc('receipt', 0x03, ok(1, {
    transactionHash: tx.hash, blockHash: h('ab'), blockNumber: '0x1b4', transactionIndex: '0x0',
    from: payer.address.toLowerCase(), to: usdc.toLowerCase(), status: '0x1', logs: [log],
    gasUsed: '0xcd4e', cumulativeGasUsed: '0xcd4e', effectiveGasPrice: '0x77359400',
}));
rpc('receipts_batch', 0x2b, [ok(1, {
    transactionHash: tx.hash, blockHash: h('ab'), blockNumber: '0x1b4', transactionIndex: '0x0',
    from: payer.address.toLowerCase(), to: null, status: '0x0', logs: [],
}), ok(2, null)]);
rpc('logs', 0x04, ok(1, [log, { ...log, logIndex: '0x1', removed: true, topics: [], data: '0x' }]));
rpc('fees', 0x05, ok(1, block(7)), ok(2, '0x3b9aca00'));
rpc('fees_no_tip', 0x05, ok(1, block(7)),
    { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method eth_maxPriorityFeePerGas not supported.' } });
rpc('call_word_nonce', 0x06, ok(1, '0x' + (123456).toString(16).padStart(64, '0')), ok(2, '0x7'));
rpc('send_raw_known', 0x07, { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'already known' } },
    ok(2, '0xcd4e'), ok(3, '0x539'));
put('rpc', 'failover', Buffer.concat([Buffer.from([0]), Buffer.from('!\0' + JSON.stringify(ok(1, '0x1b4')))]));

// SSH public keys, made by ssh-keygen (t/unit/test_sshkey.c's)
put('sshkey', 'ed25519', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM t');
put('sshkey', 'ecdsa', 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHTXridK9Xn2EOFq3uFIJTP2X/+UTdodPIsFDgOzoSMjc22qXRmFC+7VcQ34nUZb4EI2Al+Xs+fYBspr4kUC6rM= t');
put('sshkey', 'rsa2048', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdJeZrnXRgfbghHEm0prwNnOVZd6iWwHo+dRS3RT8q4K/hw9iI2y5wnMCG0zRzE31ncaDnmR+XHRP1rmzawr0Q1CJT7WbZLWfo+e4+Dz9Qhex8hEE/SgoZR77520U8urwuMkZ1I0tlMLEuYjVFeLe6/i1g1xlOFG3nJgnBZXb/meKp0FW8JZjNld0maQFW06SaY78QNV6YyzrBol6Iw+X5mtVFWWMUMMeRfrkKRpRXOHi1E9/pdX8pN9FJiZRSfuC+jXpssfZyshxji9Nb76i6TeuS8nRoLmyJcEMuJB0oOPNlOCKTDa+KCEnmSTl54ugYKaT2SeXjHSM4qDgCPE6N t');
