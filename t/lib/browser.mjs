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
// eth_accounts, personal_sign.  `asked` lists the methods the page called.
export async function pageWith(browser, wallet) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const asked = [];
    await page.exposeFunction('__axonWallet', async (method, params) => {
        asked.push(method);
        if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [wallet.address];
        if (method === 'personal_sign') {
            const [hex, address] = params;
            if (address.toLowerCase() !== wallet.address.toLowerCase()) throw new Error('unknown account');
            return wallet.signMessage(getBytes(hex));
        }
        throw new Error(`unsupported method ${method}`);
    });
    await page.addInitScript(() => {
        window.ethereum = {
            isMetaMask: false,
            request: ({ method, params }) => window.__axonWallet(method, params || []),
            on() {},
        };
    });
    return { page, asked, context };
}
