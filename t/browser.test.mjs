// The launch page in a real browser: Debian's Chromium, headless, driven by
// playwright-core, with an EIP-1193 provider injected into the page that is
// backed by a real ethers wallet (what MetaMask and the like offer as
// window.ethereum).  Sign in, see the balance the worker credited, claim,
// see the place in line; a screenshot is kept in build/test-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { launchBrowser, pageWith as pageOf, artifact } from './lib/browser.mjs';

const s = new Stack();
let browser;

before(async () => {
    await s.start();
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
    await s.stop();
});

const pageWith = wallet => pageOf(browser, wallet);

test('sign in with the injected wallet, see the credited balance, claim, wait in line', async () => {
    const w = Wallet.createRandom();
    const { page, asked, context } = await pageWith(w);
    try {
        await page.goto(s.url('/'));
        await page.click('#connect');
        await page.waitForSelector(`#who:text("${w.address}")`);
        assert.deepEqual(asked, ['eth_requestAccounts', 'personal_sign']);
        assert.equal(await page.textContent('#balance'), '0');

        // an admin grants 120 minutes; the worker credits them
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', w.address,
                'minutes', '120', 'ref', `browser-${w.address}`);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${w.address.toLowerCase()}`, 'balance') === '120',
                      'the grant credited');
        s.redis('SET', 'axon:profiles', JSON.stringify({
            profiles: [{ name: 'small', gpus: 1, price: 1, available: true },
                       { name: 'max', gpus: 8, price: 20, available: false }],
        }));
        await page.reload();
        await page.waitForSelector('#balance:text("120")');

        // too dear for the balance: its button is off
        const rows = page.locator('#profiles tbody tr');
        assert.equal(await rows.count(), 2);
        assert.equal(await rows.nth(1).locator('button').isDisabled(), true);

        await rows.nth(0).locator('button').click();
        await page.waitForSelector('#session:not([hidden])');
        await page.waitForSelector('#status:text("Waiting in line")');
        assert.equal(await page.isVisible('#leave'), true);

        const shot = artifact('launch-page-queued.png');
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok(existsSync(shot));

        // a cookie-less page elsewhere sees nothing of it
        const other = await browser.newContext();
        const p2 = await other.newPage();
        await p2.goto(s.url('/'));
        await p2.waitForSelector('#signin:not([hidden])');
        await other.close();
    } finally {
        await context.close();
    }
});

test('a refused signature is said plainly, and nothing is signed in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
        window.ethereum = {
            request: async ({ method }) => {
                if (method === 'eth_requestAccounts') return ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'];
                throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
            },
            on() {},
        };
    });
    try {
        await page.goto(s.url('/'));
        await page.click('#connect');
        await page.waitForSelector('#error:text("You declined the signature")');
        assert.equal(await page.isVisible('#account'), false);
    } finally {
        await context.close();
    }
});
