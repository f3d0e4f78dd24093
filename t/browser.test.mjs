// The launch page in a real browser: Debian's Chromium, headless, driven by
// playwright-core, with an EIP-1193 provider injected into the page that is
// backed by a real ethers wallet (what MetaMask and the like offer as
// window.ethereum).  Sign in, see the balance the worker credited, claim,
// see the place in line; a screenshot is kept in build/test-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { launchBrowser, pageWith as pageOf, artifact } from './lib/browser.mjs';

const s = new Stack();
let browser;

before(async () => {
    await s.start();
    // the session counter, as a worker running sessions writes it (this
    // one runs none: the tests write the profiles it would publish)
    s.redis('SET', 'axon:session:next', '0', 'NX');
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
        await page.waitForSelector('#balance:text-is("120")');

        // too dear for the balance: its button is off (the page shows the
        // balance first, the profiles after its other reads: waited for)
        const rows = page.locator('#profiles tbody tr');
        await rows.nth(1).waitFor();
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

test('the SSH option: offered only where the worker says so; the key travels in the claim; the ssh command is shown', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'axon-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'agent@ci', '-f', join(dir, 'k')]);
    const pub = readFileSync(join(dir, 'k.pub'), 'utf8').trim();
    rmSync(dir, { recursive: true, force: true });

    const w = Wallet.createRandom();
    const addr = w.address.toLowerCase();
    const { page, context } = await pageWith(w);
    const profiles = ssh => s.redis('SET', 'axon:profiles', JSON.stringify({
        ssh, profiles: [{ name: 'small', gpus: 1, price: 1, available: true }],
    }));
    try {
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', w.address,
                'minutes', '50', 'ref', `browser-ssh-${w.address}`);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '50', 'the grant credited');

        profiles(false);
        await page.goto(s.url('/'));
        await page.click('#connect');
        await page.waitForSelector('#balance:text-is("50")');
        assert.equal(await page.isVisible('#ssh-option'), false, 'no SSH option where the operator turned it off');

        profiles(true);
        await page.reload();
        await page.waitForSelector('#ssh-option:not([hidden])');
        assert.equal(await page.isVisible('#ssh-key-row'), false);
        await page.check('input[name="mode"][value="ssh"]');
        await page.waitForSelector('#ssh-key-row:not([hidden])');

        const claimButton = page.locator('#profiles tbody tr').nth(0).locator('button');
        await claimButton.click();
        await page.waitForSelector('#error:text("Paste your SSH public key")');

        await page.fill('#ssh-key', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ== x');
        await claimButton.click();
        await page.waitForSelector('#error:not([hidden])');
        assert.match(await page.textContent('#error'), /\S/, 'the gate says why the key is refused');
        assert.equal(s.redis('HEXISTS', `axon:wallet:${addr}`, 'session'), '(integer) 0', 'nothing claimed');

        await page.fill('#ssh-key', `  ${pub}\n`);
        await claimButton.click();
        await page.waitForSelector('#status:text("Waiting in line")');
        const id = s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'session');
        assert.equal(s.redis('--raw', 'HGET', `axon:session:${id}`, 'mode'), 'ssh');
        assert.ok((s.redis('--raw', 'XRANGE', 'axon:jobs', '-', '+') + s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+'))
            .includes(pub), 'the key travels in the claim job (dead-lettered here: this worker runs no sessions)');

        // the worker's side, as it publishes a running SSH session
        s.redis('HSET', `axon:session:${id}`, 'state', 'running', 'started_at', String(Math.floor(Date.now() / 1000)),
                'connect_host', '127.0.0.1', 'connect_port', '42001', 'connect_user', 'aXonian');
        await page.waitForSelector('#ssh:not([hidden])', { timeout: 20000 });
        assert.equal(await page.textContent('#ssh-command'),
                     'ssh -p 42001 -o StrictHostKeyChecking=accept-new aXonian@127.0.0.1');
        assert.equal(await page.isVisible('#open'), false, 'no desktop link');
        assert.equal(await page.isVisible('#desktop'), false, 'no desktop frame');
        assert.equal(await page.isVisible('#release'), true);
        await page.screenshot({ path: artifact('launch-page-ssh.png'), fullPage: true });
    } finally {
        await context.close();
    }
});

test('a claim the balance cannot hold with the grace: the button is off, and the refusal says what is needed', async () => {
    const w = Wallet.createRandom();
    const addr = w.address.toLowerCase();
    const { page, context } = await pageWith(w);
    const profiles = grace => s.redis('SET', 'axon:profiles', JSON.stringify({
        grace_minutes: grace, profiles: [{ name: 'small', gpus: 1, price: 1, available: true }],
    }));
    try {
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', w.address,
                'minutes', '3', 'ref', `browser-grace-${w.address}`);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '3', 'the grant credited');

        // loaded while 3 minutes were enough; the worker then publishes a grace of 5
        profiles(2);
        await page.goto(s.url('/'));
        await page.click('#connect');
        await page.waitForSelector('#balance:text-is("3")');
        const button = page.locator('#profiles tbody tr').nth(0).locator('button');
        assert.equal(await button.isDisabled(), false, '1 + 2 minutes: enough');

        profiles(5);
        await button.click();
        await page.waitForSelector('#error:not([hidden])');
        assert.equal(await page.textContent('#error'),
                     'This profile needs 6 credit minutes to start (the first minute and 5 minutes of grace, '
                     + 'billed if used); your balance is 3: deposit first.');
        assert.equal(s.redis('HEXISTS', `axon:wallet:${addr}`, 'session'), '(integer) 0', 'nothing claimed');

        await page.reload();
        await page.waitForSelector('#balance:text-is("3")');
        assert.equal(await button.isDisabled(), true);
        assert.match(await button.getAttribute('title'), /needs 6 credit minutes/);
    } finally {
        await context.close();
    }
});
