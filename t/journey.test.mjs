// A person's whole way through the launch page, in headless Chromium,
// against the stack as `make up` starts it (the local chain, the worker
// with sessions, the desktop image): connect a wallet that holds USDC, see
// the prices, buy 2 USDC of minutes through the page (the wallet really
// pays on the local chain), watch the confirmations, get exactly the
// minutes the page quoted, claim a desktop, see XFCE drawn by noVNC, keep a
// file in the home, release, claim again, find the file, release, and read
// both sessions with their exact minutes in the usage list.  Then what goes
// wrong: a declined payment, a wallet on another chain that will not
// switch, too little balance; each is said, and nothing changes.
// Screenshots of every step: build/test-artifacts/journey-*.png.
//
// Skips itself, saying so, when the desktop image is not built (make images).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { Wallet, parseEther } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { launchBrowser, pageWith, artifact } from './lib/browser.mjs';
import { sessionImage, podman } from './lib/images.mjs';

const { ref: image, skip } = sessionImage('desktop');
const N = 3;                    // confirmations

const s = new Stack({
    chain: true,
    sessions: true,
    env: { AXON_SESSION_IMAGE: image, AXON_SESSION_PORT: '6080' },
    workerConf: [
        'gpu_hosts local=0,1',
        'profiles "small:1:1"',
        `deposit_confirmations ${N}`,
        'deposit_poll_interval 200ms',
        // minutes of 5 s: 133 credit minutes last 11 minutes of desktop
        'billing_minute 5s',
        'session_grace 10s',
        'billing_tick 500ms',
        'reconcile_interval 2s',
        // XFCE under load on shared CPUs: a generous wait, not a timing
        'launcher_timeout 60s',
        'launcher_ready_timeout 2m',
    ].join('\n'),
});

let browser, eth;
before(async () => {
    if (skip) return;
    await s.start();
    eth = await s.ethers();
    browser = await launchBrowser();
});
after(async () => {
    try {
        await browser?.close();
    } finally {
        await s.stop();
    }
});

let shot = 0;
const snap = (page, what) => page.screenshot({ path: artifact(`journey-${String(++shot).padStart(2, '0')}-${what}.png`),
                                               fullPage: true });

// Distinct colours among a grid of the noVNC canvas's pixels
async function canvasColours(frame) {
    return frame.evaluate(() => {
        const c = document.querySelector('canvas');
        if (!c || !c.width) return { colours: 0 };
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let y = 0; y < c.height; y += 16) {
            for (let x = 0; x < c.width; x += 16) {
                const i = (y * c.width + x) * 4;
                seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            }
        }
        return { colours: seen.size, width: c.width, height: c.height };
    });
}

async function signIn(page) {
    await page.goto(s.url('/'));
    await page.click('#connect');
    await page.waitForSelector('#account:not([hidden])');
}

const container = id => `axgt-${basename(s.dir)}-${id}`;

async function desktopDrawn(page) {
    await page.waitForSelector('#desktop:not([hidden])', { timeout: 3 * 60 * 1000 });
    const frame = await waitFor(() => page.frames().find(f => /\/novnc\/vnc\.html/.test(f.url())), 'the noVNC frame');
    await frame.waitForFunction(() => document.documentElement.classList.contains('noVNC_connected'),
                                null, { polling: 500, timeout: 2 * 60 * 1000 });
    let last;
    await waitFor(async () => {
        last = await canvasColours(frame).catch(() => ({ colours: 0 }));
        return last.colours >= 8;
    }, 'a framebuffer with the desktop drawn', 2 * 60 * 1000);
    return last;
}

async function claimAndRun(page) {
    await page.locator('#profiles tbody tr').nth(0).locator('button').click();
    // the page shows the session it last polled: after a release the ended
    // one, until its first poll after the claim; only the new one runs (the
    // number and the status are written together)
    await page.waitForSelector('#status:text("Running")', { timeout: 3 * 60 * 1000 });
    return Number((await page.textContent('#session-id')).replace('#', ''));
}

async function release(page) {
    await page.click('#release');
    await page.waitForSelector('#status:text("Ended")', { timeout: 60 * 1000 });
}

test('buy minutes with the wallet, use a desktop twice, the home is kept, the usage is exact', { skip }, async () => {
    const w = eth.wallets[0];
    const addr = w.address.toLowerCase();
    const { page, context, wallet } = await pageWith(browser, w);
    try {
        await signIn(page);
        await page.waitForSelector('#state:text("You have no credit minutes: buy minutes below")');
        assert.equal(await page.textContent('#balance'), '0');
        // prices per hour, in credit minutes and each token, the tier applied
        // (the demo wallets hold 1,000 AXGT: 10 %): an hour is 720 minutes
        // of 5 s, at 60 credit minutes a USDC 12 USDC, 10.8 with the tier
        await waitFor(async () => /10 % off/.test(await page.textContent('#discount')), 'the tier known', 60000);
        const row = await page.textContent('#profiles tbody tr');
        assert.match(row, /720 credit minutes \(10\.8 USDC · [\d.]+ AXGT · [\d.]+ ETH\)/, row);
        assert.match(row, /2 of 2/, 'free GPUs');
        assert.match(await page.textContent('#buy-how'), new RegExp(`after ${N} confirmations`));
        await snap(page, 'signed-in');

        // 2 USDC: the page quotes the minutes before paying
        await page.selectOption('#buy-token', 'USDC');
        await page.fill('#buy-amount', '2');
        const quote = await page.textContent('#buy-quote');
        const quoted = Number(/buys (\d+) credit minutes \(10 % discount applied\)/.exec(quote)?.[1]);
        assert.equal(quoted, Math.floor(2 * 60 * 100 / 90), quote);
        assert.equal(await page.inputValue('#buy-minutes'), String(quoted));
        await snap(page, 'quote');
        await page.click('#buy-go');

        // the confirmations, live, as blocks come
        await page.waitForSelector('#buy-status:text("Confirming: 1 of 3")', { timeout: 60000 });
        await snap(page, 'confirming');
        await s.mine(1);
        await page.waitForSelector('#buy-status:text("Confirming: 2 of 3")', { timeout: 60000 });
        await s.mine(1);
        await page.waitForSelector(`#buy-status:text("Credited: ${quoted} credit minutes (10 % discount applied)")`,
                                   { timeout: 60000 });
        await page.waitForSelector(`#balance:text-is("${quoted}")`);
        assert.equal(wallet.sent.length, 1);
        assert.equal(s.sql(`SELECT sum(delta_minutes) FROM credit_ledger WHERE wallet = '${addr}' AND kind = 'deposit'`),
                     String(quoted));
        assert.match(await page.textContent('#deposits tbody'), /2 USDC.*credited, 10 % discount.*133/s);
        await snap(page, 'credited');

        // a desktop: noVNC draws XFCE; a file kept in the home
        const first = await claimAndRun(page);
        const drawn = await desktopDrawn(page);
        assert.ok(drawn.width >= 320, JSON.stringify(drawn));
        await page.waitForSelector('#state:text("Your desktop is running: about")');
        await snap(page, 'desktop');
        const wrote = podman('exec', '-u', '1000', container(first), 'sh', '-c',
                             'echo "kept by axon" > /home/aXonian/kept.txt && cat /home/aXonian/kept.txt');
        assert.equal(wrote.out, 'kept by axon', wrote.err);
        await release(page);
        await snap(page, 'released');

        // again: the same home
        const second = await claimAndRun(page);
        assert.notEqual(second, first);
        await desktopDrawn(page);
        const read = podman('exec', '-u', '1000', container(second), 'cat', '/home/aXonian/kept.txt');
        assert.equal(read.out, 'kept by axon', read.err);
        await snap(page, 'desktop-again');
        await release(page);

        // the usage list: both sessions, newest first, with the minutes
        // billed (Postgres's final figures once the page says Ended); the
        // list the page loaded at the release may show the second session
        // still running with fewer: the page's own refresh at its end
        // brings the final one
        const want = [second, first].map(id => ({ id, billed: s.sql(`SELECT billed_minutes FROM sessions WHERE id = ${id}`) }));
        let rows = [];
        await waitFor(async () => {
            if ((await page.locator('#usage tbody tr').count()) !== 2) return false;
            rows = await Promise.all([0, 1].map(i =>
                page.locator('#usage tbody tr').nth(i).locator('td').allTextContents()));
            return rows.every((c, i) => c[0] === `#${want[i].id}` && c[4] === want[i].billed);
        }, `the usage list with both sessions' minutes: ${JSON.stringify(want)}`).catch(e => {
            throw new Error(`${e.message}; the page lists ${JSON.stringify(rows)}`);
        });
        for (const { id, billed } of want) {
            assert.ok(Number(billed) >= 1);
            assert.equal(s.sql(`SELECT -sum(delta_minutes) FROM credit_ledger WHERE reference = 'session:${id}'`),
                         billed);
        }
        const spent = Number(s.sql(`SELECT sum(billed_minutes) FROM sessions WHERE id IN (${first}, ${second})`));
        await page.waitForSelector(`#balance:text-is("${quoted - spent}")`);
        await snap(page, 'usage');
    } finally {
        await context.close();
    }
});

test('a declined payment, a wallet that will not switch chains, too little balance: each said, nothing changes', { skip }, async () => {
    const money = () => s.sql('SELECT count(*) FROM deposits') + '|' + s.sql("SELECT count(*) FROM credit_ledger WHERE kind = 'deposit'");
    const before = money();

    // declined in the wallet
    {
        const w = eth.wallets[1];
        const { page, context, asked } = await pageWith(browser, w, { refuse: ['eth_sendTransaction'] });
        try {
            await signIn(page);
            await page.fill('#buy-amount', '1');
            await page.click('#buy-go');
            await page.waitForSelector('#error:text("You declined the payment in your wallet: nothing was paid.")');
            assert.ok(asked.includes('eth_sendTransaction'));
            assert.equal(await page.textContent('#balance'), '0');
            await snap(page, 'declined');
        } finally {
            await context.close();
        }
    }

    // on another chain; the person declines switching
    {
        const w = eth.wallets[2];
        const { page, context, asked } = await pageWith(browser, w, { chainId: 1, knownChains: [1, s.chain.chain_id],
                                                                    refuse: ['wallet_switchEthereumChain'] });
        try {
            await signIn(page);
            await page.waitForSelector('#state:text("Your wallet is on another network (chain 1)")');
            await page.fill('#buy-amount', '1');
            await page.click('#buy-go');
            await page.waitForSelector('#error:text("You declined switching to axon local chain")');
            assert.match(await page.textContent('#error'), /nothing was paid/);
            assert.equal(asked.includes('eth_sendTransaction'), false);
            await snap(page, 'wrong-chain');
        } finally {
            await context.close();
        }
    }

    // a wallet that does not know the chain: it is added, then it pays
    {
        const w = Wallet.createRandom().connect(eth.provider);
        // gas money only, no USDC: too little balance
        await (await eth.wallets[2].sendTransaction({ to: w.address, value: parseEther('1') })).wait();
        const { page, context, asked, wallet } = await pageWith(browser, w, { chainId: 1 });
        try {
            await signIn(page);
            await page.fill('#buy-amount', '1');
            await page.click('#buy-go');
            await page.waitForSelector('#error:text("Your wallet holds 0 USDC: not enough to pay 1 USDC. Nothing was paid.")');
            assert.equal(wallet.added.length, 1, 'wallet_addEthereumChain after 4902');
            assert.equal(wallet.added[0].rpcUrls[0], s.chain.rpc_url);
            assert.equal(Number(wallet.added[0].chainId), s.chain.chain_id);
            assert.equal(asked.includes('eth_sendTransaction'), false);
            await snap(page, 'too-little');
        } finally {
            await context.close();
        }
    }

    assert.equal(money(), before, 'no deposit, no credit');
});
