// Buying minutes on the launch page when something goes wrong between the
// wallet's payment and the gate, in headless Chromium with the injected
// wallet, on the local chain.  An ETH payment reaches the gate only by the
// hash the page sends (the indexer finds token transfers, not ETH), so the
// page must not lose it: an answer lost on the way, a reload, a sign-out.
// And it must not pay at all when the gate can no longer be told (signed
// out in another tab).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, parseEther } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { launchBrowser, pageWith } from './lib/browser.mjs';

const s = new Stack({ chain: true, workerConf: 'deposit_confirmations 1\ndeposit_poll_interval 200ms' });
let browser, eth;

before(async () => {
    await s.start();
    eth = await s.ethers();
    s.redis('SET', 'axon:profiles', JSON.stringify({ profiles: [{ name: 'small', gpus: 1, price: 1, available: true }] }));
    await waitFor(async () => (await s.json('/api/config')).body.deposits === true, 'the deposit config');
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
    await s.stop();
});

// a wallet of its own with 1 ETH (no two tests share a nonce)
async function fresh() {
    const w = Wallet.createRandom().connect(eth.provider);
    await (await eth.wallets[0].sendTransaction({ to: w.address, value: parseEther('1') })).wait();
    return w;
}

const balance = w => Number(s.redis('--raw', 'HGET', `axon:wallet:${w.address.toLowerCase()}`, 'balance') || 0);

async function signedIn(w) {
    const r = await pageWith(browser, w);
    await r.page.goto(s.url('/'));
    await r.page.click('#connect');
    await r.page.waitForSelector('#buy:not([hidden])');
    await r.page.selectOption('#buy-token', 'ETH');
    await r.page.fill('#buy-minutes', '10');
    return r;
}

test('the answer to the payment\'s hash is lost: the page sends it again, and the ETH is credited', async () => {
    const w = await fresh();
    const { page, context, wallet } = await signedIn(w);
    try {
        let lost = 0;
        await page.route('**/api/auth/verify-deposit', route => { lost++; return route.abort('connectionreset'); },
                         { times: 1 });
        await page.click('#buy-go');
        await page.waitForSelector('#buy-status:text("Credited: 10 credit minutes")');
        assert.equal(lost, 1);
        assert.equal(wallet.sent.length, 1);
        assert.equal(balance(w), 10);
        assert.equal(await page.evaluate(() => Object.keys(localStorage).filter(k => k.startsWith('axon:payment:')).length),
                     0, 'nothing kept once credited');
    } finally {
        await context.close();
    }
});

test('reloaded before the gate was told: the page kept the payment and sends it after the reload', async () => {
    const w = await fresh();
    const { page, context, wallet } = await signedIn(w);
    try {
        // the gate unreachable for the hash until the reload
        await page.route('**/api/auth/verify-deposit', route => route.abort('connectionrefused'));
        await page.click('#buy-go');
        await waitFor(() => wallet.sent.length === 1, 'the payment');
        await page.waitForSelector('#error:not([hidden])');
        await page.unroute('**/api/auth/verify-deposit');
        await page.reload();
        await page.waitForSelector('#buy-status:text("Credited: 10 credit minutes")');
        assert.equal(balance(w), 10);
        assert.equal(wallet.sent.length, 1);
    } finally {
        await context.close();
    }
});

test('signed out in another tab: buying in the first one pays nothing and asks to sign in', async () => {
    const w = await fresh();
    const { page, context, wallet } = await signedIn(w);
    try {
        const other = await context.newPage();
        await other.goto(s.url('/'));
        await other.click('#logout');
        await other.waitForSelector('#signin:not([hidden])');

        await page.click('#buy-go');
        await page.waitForSelector('#error:text("sign in again. Nothing was paid.")');
        assert.equal(wallet.sent.length, 0);
        assert.equal(await page.isVisible('#signin'), true);
    } finally {
        await context.close();
    }
});
