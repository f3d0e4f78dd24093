import { Wallet, Transaction, keccak256 } from 'ethers';
const keys = ['0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318',
  '0x0000000000000000000000000000000000000000000000000000000000000001',
  '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140'];
const cases = [
  { chainId: 1337, nonce: 0, maxPriorityFeePerGas: 0n, maxFeePerGas: 0n, gasLimit: 21000, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: 0n, data: '0x' },
  { chainId: 8453, nonce: 127, maxPriorityFeePerGas: 1000000000n, maxFeePerGas: 30000000000n, gasLimit: 100000, to: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', value: 1n, data: '0xe3ee160e' + '00'.repeat(32*9) },
  { chainId: 84532, nonce: 128, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n**255n, gasLimit: 0xffffffffffffn, to: '0x0000000000000000000000000000000000000000', value: 10n**18n, data: '0x7f' },
  { chainId: 1, nonce: 2**53-1, maxPriorityFeePerGas: 255n, maxFeePerGas: 256n, gasLimit: 55, to: '0xffffffffffffffffffffffffffffffffffffffff', value: 2n**256n-1n, data: '0x80' },
  { chainId: 31337, nonce: 5, maxPriorityFeePerGas: 2n, maxFeePerGas: 3n, gasLimit: 60000, to: '0x5FbDB2315678afecb367f032d93F642f64180aa3', value: 0n, data: '0x' + 'ab'.repeat(55) },
  { chainId: 31337, nonce: 6, maxPriorityFeePerGas: 2n, maxFeePerGas: 3n, gasLimit: 60000, to: '0x5FbDB2315678afecb367f032d93F642f64180aa3', value: 0n, data: '0x' + 'cd'.repeat(56) },
  { chainId: 31337, nonce: 7, maxPriorityFeePerGas: 2n, maxFeePerGas: 3n, gasLimit: 60000, to: '0x5FbDB2315678afecb367f032d93F642f64180aa3', value: 0n, data: '0x' + 'ef'.repeat(300) },
];
const out = [];
let i = 0;
for (const c of cases) {
  const w = new Wallet(keys[i++ % keys.length]);
  const raw = await w.signTransaction({ type: 2, accessList: [], ...c });
  out.push({ key: w.privateKey, address: w.address, ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'bigint' ? '0x' + v.toString(16) : v])), raw, hash: keccak256(raw) });
}
console.log(JSON.stringify(out, null, 1));
