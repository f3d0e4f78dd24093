// Headless Chromium for the tests: Debian's chromium (AXON_CHROMIUM to
// point elsewhere), driven by playwright-core, which never downloads a
// browser.  A page gets an EIP-1193 provider (window.ethereum) backed by a
// real ethers wallet, as MetaMask and the like inject one.
//
// No chromium outlives the test process: close() in the file's after();
// should the process end without it (a failing before(), an uncaught
// exception, node --test's SIGTERM at its timeout), playwright-core's own
// handlers (exit, SIGINT, SIGTERM, SIGHUP) kill the browser's process
// group, and a SIGKILLed node closes the DevTools pipe, on which chromium
// exits.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { getBytes } from 'ethers';
import { BUILD } from './stack.mjs';

export const CHROMIUM = process.env.AXON_CHROMIUM || '/usr/bin/chromium';

// Screenshots and other things a person looks at after a run; CI keeps
// this directory (docs/testing.md).
export const ARTIFACTS = join(BUILD, 'test-artifacts');

export function artifact(name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    return join(ARTIFACTS, name);
}

export async function launchBrowser() {
    const { chromium } = await import('playwright-core');
    return chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run',
               // more, for a debugging run: AXON_CHROMIUM_ARGS='--log-net-log=/tmp/net.json'
               ...(process.env.AXON_CHROMIUM_ARGS || '').split(/\s+/).filter(Boolean)],
    });
}

// A page whose window.ethereum is this wallet: eth_requestAccounts,
// eth_accounts, personal_sign; and, when the wallet is connected to a
// provider (an ethers Wallet of Stack.ethers()), what paying takes:
// eth_chainId, wallet_switchEthereumChain, wallet_addEthereumChain,
// eth_sendTransaction (the wallet signs and sends: a real payment),
// eth_call, eth_getBalance.  `asked` lists the methods the page called.
// opts.chainId: the chain the wallet is on at first (default the
// provider's); opts.refuse: methods the person declines (EIP-1193 error
// 4001); opts.knownChains: chain ids the wallet can switch to without
// adding them (default: the one it is on).  Errors reach the page as
// EIP-1193 errors, with their code.
export async function pageWith(browser, wallet, opts = {}) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const asked = [];
    const provider = wallet.provider;
    const real = provider ? Number((await provider.getNetwork()).chainId) : 1;
    const state = { chainId: opts.chainId ?? real, known: new Set(opts.knownChains ?? [opts.chainId ?? real]),
                    added: [], sent: [] };
    const refuse = new Set(opts.refuse || []);
    const fail = (code, message) => ({ error: { code, message } });
    const hex = n => '0x' + n.toString(16);
    await page.exposeFunction('__axonWallet', async (method, params) => {
        asked.push(method);
        if (refuse.has(method)) return fail(4001, 'User rejected the request.');
        switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
            return { ok: [wallet.address] };
        case 'personal_sign': {
            const [data, address] = params;
            if (address.toLowerCase() !== wallet.address.toLowerCase()) return fail(4100, 'unknown account');
            return { ok: await wallet.signMessage(getBytes(data)) };
        }
        case 'eth_chainId':
            return { ok: hex(state.chainId) };
        case 'wallet_switchEthereumChain': {
            const id = Number(params[0].chainId);
            if (!state.known.has(id)) return fail(4902, 'Unrecognized chain ID.');
            state.chainId = id;
            return { ok: null };
        }
        case 'wallet_addEthereumChain': {
            const id = Number(params[0].chainId);
            state.added.push(params[0]);
            state.known.add(id);
            state.chainId = id;
            return { ok: null };
        }
        }
        if (!provider) return fail(4200, `unsupported method ${method}`);
        if (state.chainId !== real) return fail(-32603, `the wallet is on chain ${state.chainId}`);
        try {
            if (method === 'eth_sendTransaction') {
                const [tx] = params;
                if (tx.from.toLowerCase() !== wallet.address.toLowerCase()) return fail(4100, 'unknown account');
                const sent = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value });
                state.sent.push(sent.hash);
                return { ok: sent.hash };
            }
            if (['eth_call', 'eth_getBalance', 'eth_blockNumber', 'eth_getTransactionReceipt'].includes(method)) {
                return { ok: await provider.send(method, params) };
            }
        } catch (e) {
            return fail(-32603, e.shortMessage || e.message);
        }
        return fail(4200, `unsupported method ${method}`);
    });
    await page.addInitScript(() => {
        const listeners = {};
        window.ethereum = {
            isMetaMask: false,
            request: async ({ method, params }) => {
                const r = await window.__axonWallet(method, params || []);
                if (r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code });
                if (method === 'wallet_switchEthereumChain' || method === 'wallet_addEthereumChain') {
                    for (const f of listeners.chainChanged || []) f(params[0].chainId);
                }
                return r.ok;
            },
            on(name, f) { (listeners[name] ||= []).push(f); },
        };
    });
    return { page, asked, context, wallet: state };
}
