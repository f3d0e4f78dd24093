// Many ERC-20 Transfer logs on the local chain, for the deposit indexer's
// benchmark: COUNT transfers of USDC and AXGT, in turn, from the demo
// wallets to the revenue wallet, PER_BLOCK transactions per block.
//
//   node chain/transfers.mjs CHAIN_JSON COUNT [PER_BLOCK]
//
// Mining is paused (miner_stop) while a block's transactions are sent in
// JSON-RPC batches, then one evm_mine mines them together.  Prints
// {"transfers", "from_block", "to_block", "ms"} as JSON.

import { readFileSync } from 'node:fs';

const [chainJson, countArg, perBlockArg] = process.argv.slice(2);
if (!countArg) { console.error('usage: transfers.mjs CHAIN_JSON COUNT [PER_BLOCK]'); process.exit(2); }
const chain = JSON.parse(readFileSync(chainJson, 'utf8'));
const count = Number(countArg);
const perBlock = Math.min(Number(perBlockArg || 200), 500);   // ~50k gas each, 30M per block

const TRANSFER = 'a9059cbb';     // transfer(address,uint256)
const MINT = '40c10f19';         // mint(address,uint256), the deployer's
const word = v => BigInt(v).toString(16).padStart(64, '0');
let nextId = 1;

async function post(body) {
    const res = await fetch(chain.rpc_url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return res.json();
}

async function rpc(method, ...params) {
    const a = await post({ jsonrpc: '2.0', id: nextId++, method, params });
    if (a.error) throw new Error(`${method}: ${a.error.message}`);
    return a.result;
}

const t0 = Date.now();
const tokens = [chain.tokens.USDC, chain.tokens.AXGT];
const amount = j => BigInt(1 + j % 1000) * 10n ** BigInt(tokens[j % 2].decimals - 2);

// the demo wallets' own balances run out long before thousands of transfers
// (a transfer that reverts leaves no log): mint what each will send first
const need = new Map();
for (let j = 0; j < count; j++) {
    const key = `${j % 2}:${j % chain.demo_wallets.length}`;
    need.set(key, (need.get(key) || 0n) + amount(j));
}
for (const [key, sum] of need) {
    const [t, w] = key.split(':').map(Number);
    const hash = await rpc('eth_sendTransaction', { from: chain.deployer, to: tokens[t].address, gas: '0x30d40',
        data: `0x${MINT}${word(chain.demo_wallets[w].address)}${word(sum)}` });
    const r = await rpc('eth_getTransactionReceipt', hash);
    if (!r || r.status !== '0x1') throw new Error(`mint for demo wallet ${w}: ${r ? 'reverted' : 'no receipt'}`);
}

const from = Number(await rpc('eth_blockNumber')) + 1;

await rpc('miner_stop');
try {
    for (let sent = 0; sent < count; ) {
        const n = Math.min(perBlock, count - sent);
        for (let i = 0; i < n; i += 100) {
            const batch = [];
            for (let k = i; k < Math.min(i + 100, n); k++) {
                const j = sent + k;
                const t = tokens[j % 2];
                const w = chain.demo_wallets[j % chain.demo_wallets.length];
                batch.push({ jsonrpc: '2.0', id: nextId++, method: 'eth_sendTransaction', params: [{
                    from: w.address, to: t.address, gas: '0x186a0',
                    data: `0x${TRANSFER}${word(chain.revenue_wallet)}${word(amount(j))}`,
                }] });
            }
            for (const a of await post(batch)) {
                if (a.error) throw new Error(`eth_sendTransaction: ${a.error.message}`);
            }
        }
        await rpc('evm_mine');
        sent += n;
    }
} finally {
    await rpc('miner_start');
}

const to = Number(await rpc('eth_blockNumber'));
const logs = await rpc('eth_getLogs', { fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}`,
    address: tokens.map(t => t.address),
    topics: ['0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'] });
if (logs.length !== count) throw new Error(`${count} transfers sent, ${logs.length} Transfer logs on chain`);
console.log(JSON.stringify({ transfers: count, from_block: from, to_block: to, ms: Date.now() - t0 }));
