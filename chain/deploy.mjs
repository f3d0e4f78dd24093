// Deploys the test tokens to the local chain (ganache with
// --wallet.deterministic) and writes what the rest of the stack needs to
// know about it:
//
//   node chain/deploy.mjs RPC_URL ARTIFACTS_DIR OUT_JSON [WORKER_CONF [NGINX_CONF]]
//
// OUT_JSON ($AXON_VAR/chain.json):
//   {chain_id, rpc_url, deployer, revenue_wallet,
//    tokens: {USDC: {address, decimals, symbol, code_hash,
//                    eip712: {name, version}}, AXGT: {...}},
//    demo_wallets: [{address, private_key}], deployed_block, multicall3,
//    x402_gas_wallet}
//
// WORKER_CONF ($AXON_VAR/chain-worker.conf): the worker's configuration
// lines for this chain (eth_rpc_url, eth_chain_id, and the deposits': the
// revenue wallet, the tokens with their PRICES, the tier token; x402
// settlement by the worker from GAS_WALLET, whose key goes into
// x402-gas.key next to it, mode 0600), which axon-stack puts into the
// generated worker.conf.
//
// NGINX_CONF ($AXON_VAR/chain-nginx.conf): the module's x402 directives for
// this chain (network, the test USDC with its EIP-712 domain, the revenue
// wallet as payTo, the price: X402_PRICE atomic USDC per credit minute),
// which axon-stack includes in the generated nginx.conf's http {}; and
// axon_x402_v1 on when version 1 of x402 has a name for the chain
// (AXON_CHAIN_ID=84532: base-sepolia).
//
// Idempotent: when OUT_JSON names the same chain and both tokens have code
// at their addresses (ganache keeps its state in $AXON_VAR/chain), deployed
// from the artifacts of today (code_hash: sha256 of the creation bytecode),
// nothing is sent; only rpc_url is brought up to date.  A token whose source
// changed is deployed again (both are, with fresh addresses).
//
// USDC is EIP-3009 (transferWithAuthorization, what x402 pays with) under
// mainnet USDC's EIP-712 domain: eip712 {name: "USD Coin", version: "2"},
// checked against the contract's eip712Domain() after deploying.
//
// Multicall3's read-only calls (chain/contracts/Multicall3.sol) are put at
// the address Multicall3 has on real chains (multicall3 in chain.json),
// where tools look for it (the x402 SDK's facilitator does): deployed, then
// its code copied there with ganache's evm_setAccountCode; checked at every
// start.
//
// Plain JSON-RPC through fetch, no client library: ganache holds the
// deterministic accounts unlocked (eth_sendTransaction), and this runs at
// every start of a stack with a chain, where loading all of ethers would
// cost a second.  Account 0 deploys and mints, 1 is the revenue wallet, 2..4 are
// demo wallets with USDC and AXGT.  Their keys are ganache's deterministic
// ones (mnemonic "myth like bonus scare over problem client lizard pioneer
// submit female collect", m/44'/60'/0'/0/i): known to the world, for the
// local chain only; t/chain.test.mjs checks them against the node.

import { readFileSync, writeFileSync, existsSync, renameSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { getAddress } from 'ethers/address';     // EIP-55, without all of ethers

export const ACCOUNTS = [
    ['0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1', '0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d'],
    ['0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0', '0x6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1'],
    ['0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b', '0x6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c'],
    ['0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d', '0x646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913'],
    ['0xd03ea8624C8C5987235048901fB614fDcA89b117', '0xadd53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743'],
];
const DEPLOYER = ACCOUNTS[0][0];
// the gas wallet of x402 settlement by the worker (x402_settle self):
// account 5 of the same mnemonic, which ganache funds and nothing else uses
export const GAS_WALLET = ['0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC',
    '0x395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd'];
const REVENUE = ACCOUNTS[1][0];
const DEMO = ACCOUNTS.slice(2);
// credit minutes per whole token: what the local chain's worker is given
const PRICES = { USDC: 60, AXGT: 100, ETH: 200000 };
const TOKENS = { USDC: ['TestUSDC', 6, 10_000n], AXGT: ['AXGT', 18, 1_000n] };  // contract, decimals, per demo wallet

const [url, artifacts, out, workerConf, nginxConf] = process.argv.slice(2);
const gasKeyFile = workerConf ? join(dirname(workerConf), 'x402-gas.key') : null;
// x402: 0.016667 USDC per credit minute, about the deposits' 60 credit
// minutes per USDC
const X402_PRICE = 16667;
// the chain ids x402 version 1 names (libaxon/axon_x402.c): base-sepolia
// 84532, base 8453, polygon 137, ...
const X402_V1_CHAINS = [2741, 11124, 84532, 8453, 43113, 43114, 4689, 1329,
    1328, 137, 80002, 3338, 1514, 41923, 324705682];
if (!out) { console.error('usage: deploy.mjs RPC_URL ARTIFACTS_DIR OUT_JSON [WORKER_CONF [NGINX_CONF]]'); process.exit(2); }

let nextId = 1;
async function rpc(method, ...params) {
    const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
}

const word = v => BigInt(v).toString(16).padStart(64, '0');
const hexQty = v => `0x${BigInt(v).toString(16)}`;

// ERC-5267 eip712Domain() -> {name, version}: the two dynamic strings at the
// offsets in words 1 and 2 of the answer
function eip712Domain(hex) {
    const b = Buffer.from(hex.slice(2), 'hex');
    const str = (w) => {
        const at = Number(b.readBigUInt64BE(w * 32 + 24));
        const n = Number(b.readBigUInt64BE(at + 24));
        return b.subarray(at + 32, at + 32 + n).toString('utf8');
    };
    return { name: str(1), version: str(2) };
}

// one transaction from the deployer, mined at once (ganache's instamine)
async function send(tx) {
    const hash = await rpc('eth_sendTransaction', { from: DEPLOYER, ...tx });
    const r = await rpc('eth_getTransactionReceipt', hash);
    if (!r || r.status !== '0x1') throw new Error(`transaction ${hash} failed`);
    return r;
}

function writeFile(path, text) {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
}

function write(c) {
    c.x402_gas_wallet = GAS_WALLET[0];
    writeFile(out, JSON.stringify(c, null, 2) + '\n');
    if (workerConf) {
        // the worker refuses a key file others can read
        writeFileSync(`${gasKeyFile}.tmp`, GAS_WALLET[1].slice(2) + '\n', { mode: 0o600 });
        chmodSync(`${gasKeyFile}.tmp`, 0o600);
        renameSync(`${gasKeyFile}.tmp`, gasKeyFile);
    }
    if (workerConf) {
        writeFile(workerConf, [
            '# the local chain: written by chain/deploy.mjs (see chain.json)',
            `eth_rpc_url ${c.rpc_url}`,
            `eth_chain_id ${c.chain_id}`,
            `deposit_revenue_wallet ${c.revenue_wallet}`,
            `deposit_tokens USDC:${c.tokens.USDC.address}:6:${PRICES.USDC},` +
                `AXGT:${c.tokens.AXGT.address}:18:${PRICES.AXGT}`,
            `deposit_eth_price ${PRICES.ETH}`,
            `deposit_tier_token ${c.tokens.AXGT.address}:18`,
            `deposit_start_block ${c.deployed_block ?? 0}`,
            'x402_settle self',
            `x402_gas_key_file ${gasKeyFile}`,
            '',
        ].join('\n'));
    }
    if (nginxConf) {
        const u = c.tokens.USDC;
        writeFile(nginxConf, [
            '# the local chain: written by chain/deploy.mjs (see chain.json)',
            // what GET /api/config tells a browser wallet to add
            'axon_chain_name    "axon local chain";',
            `axon_chain_rpc_url ${c.rpc_url};`,
            `axon_x402_network  eip155:${c.chain_id};`,
            `axon_x402_asset    ${u.address} "${u.eip712.name}" "${u.eip712.version}";`,
            `axon_x402_pay_to   ${c.revenue_wallet};`,
            `axon_x402_price    ${X402_PRICE};`,
            'axon_x402_minutes  30 60 120;',
            ...(X402_V1_CHAINS.includes(c.chain_id) ? ['axon_x402_v1       on;'] : []),
            '',
        ].join('\n'));
    }
}

const artifact = {};
for (const [sym, [name]] of Object.entries(TOKENS)) {
    artifact[sym] = JSON.parse(readFileSync(join(artifacts, `${name}.json`), 'utf8'));
}
const codeHash = sym => createHash('sha256').update(artifact[sym].bytecode).digest('hex');

const MULTICALL3 = '0xcA11bde05977b3631167028862bE2a173976CA11';

// Multicall3 at its usual address, unless it is there already
async function multicall3() {
    if ((await rpc('eth_getCode', MULTICALL3, 'latest')) !== '0x') return false;
    const a = JSON.parse(readFileSync(join(artifacts, 'Multicall3.json'), 'utf8'));
    const r = await send({ data: a.bytecode, gas: hexQty(1_000_000) });
    await rpc('evm_setAccountCode', MULTICALL3, await rpc('eth_getCode', r.contractAddress, 'latest'));
    if ((await rpc('eth_getCode', MULTICALL3, 'latest')) === '0x') throw new Error('Multicall3: no code after evm_setAccountCode');
    return true;
}

const chainId = Number(await rpc('eth_chainId'));

if (existsSync(out)) {
    const old = JSON.parse(readFileSync(out, 'utf8'));
    let deployed = old.chain_id === chainId;
    for (const sym of Object.keys(TOKENS)) {
        const a = old.tokens?.[sym]?.address;
        deployed = deployed && !!a && old.tokens[sym].code_hash === codeHash(sym) &&
            (await rpc('eth_getCode', a, 'latest')) !== '0x';
    }
    if (deployed) {
        old.rpc_url = url;
        old.multicall3 = MULTICALL3;
        if (await multicall3()) console.log(`deploy: Multicall3 put at ${MULTICALL3}`);
        write(old);
        console.log(`deploy: tokens already at ${old.tokens.USDC.address} (USDC), ` +
            `${old.tokens.AXGT.address} (AXGT): nothing to do`);
        process.exit(0);
    }
}

const result = {
    chain_id: chainId,
    rpc_url: url,
    deployer: DEPLOYER,
    revenue_wallet: REVENUE,
    tokens: {},
    demo_wallets: DEMO.map(([address, private_key]) => ({ address, private_key })),
    deployed_block: null,
};

for (const [sym, [name, decimals, each]] of Object.entries(TOKENS)) {
    const a = artifact[sym];
    const r = await send({ data: a.bytecode, gas: hexQty(3_000_000) });
    const address = r.contractAddress;
    result.deployed_block ??= Number(r.blockNumber);

    for (const [to] of DEMO) {
        await send({ to: address, gas: hexQty(200_000),
            data: `0x${a.methods['mint(address,uint256)']}${word(to)}${word(each * 10n ** BigInt(decimals))}` });
    }

    const got = Number(await rpc('eth_call', { to: address, data: `0x${a.methods['decimals()']}` }, 'latest'));
    if (got !== decimals) throw new Error(`${sym}: decimals() is ${got}, not ${decimals}`);
    result.tokens[sym] = { address: getAddress(address), decimals, symbol: sym, code_hash: codeHash(sym) };
    if (a.methods['eip712Domain()']) {
        result.tokens[sym].eip712 = eip712Domain(await rpc('eth_call',
            { to: address, data: `0x${a.methods['eip712Domain()']}` }, 'latest'));
    }
}

if (result.tokens.USDC.eip712?.name !== 'USD Coin' || result.tokens.USDC.eip712?.version !== '2') {
    throw new Error(`USDC: EIP-712 domain ${JSON.stringify(result.tokens.USDC.eip712)}, not USD Coin / 2`);
}
await multicall3();
result.multicall3 = MULTICALL3;
write(result);
console.log(`deploy: USDC at ${result.tokens.USDC.address}, AXGT at ` +
    `${result.tokens.AXGT.address} (block ${result.deployed_block}); ` +
    `${DEMO.length} demo wallets funded; revenue wallet ${REVENUE}`);
