// Compiles chain/contracts/*.sol with solc-js (the compiler version pinned
// in package.json) and writes OUTDIR/NAME.json: {contractName, abi,
// bytecode}.  OpenZeppelin's sources come from node_modules.
//
//   node chain/compile.mjs OUTDIR

import solc from 'solc';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const out = process.argv[2];
if (!out) { console.error('usage: compile.mjs OUTDIR'); process.exit(2); }

const sources = {};
for (const f of readdirSync(join(here, 'contracts')).filter(f => f.endsWith('.sol')).sort()) {
    sources[f] = { content: readFileSync(join(here, 'contracts', f), 'utf8') };
}

function findImports(path) {
    try {
        return { contents: readFileSync(join(root, 'node_modules', path), 'utf8') };
    } catch {
        return { error: `not found: ${path}` };
    }
}

const input = {
    language: 'Solidity',
    sources,
    settings: {
        optimizer: { enabled: true, runs: 200 },
        evmVersion: 'paris',        // no PUSH0: runs on any node, ganache 7 included
        outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.methodIdentifiers'] } },
    },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors || []) {
    console.error(e.formattedMessage);
    if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

mkdirSync(out, { recursive: true });
for (const file of Object.keys(sources)) {
    for (const [name, c] of Object.entries(output.contracts[file])) {
        const p = join(out, `${name}.json`);
        writeFileSync(`${p}.tmp`, JSON.stringify({
            contractName: name,
            compiler: `solc ${solc.version()}`,
            abi: c.abi,
            bytecode: `0x${c.evm.bytecode.object}`,
            methods: c.evm.methodIdentifiers,
        }, null, 1) + '\n');
        renameSync(`${p}.tmp`, p);
        console.log(`compiled ${name} -> ${p}`);
    }
}
