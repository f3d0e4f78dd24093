// The desktop through nginx, in a real browser: headless Chromium
// (t/lib/browser.mjs) signs in on the launch page with an injected
// EIP-1193 wallet, claims a profile, and the worker launches the desktop
// image (podman, no GPU); the page's noVNC, served by nginx itself from
// Debian's novnc package (conf/axon.conf's `location /novnc/`), connects
// through `location = /desktop/websockify` behind `axon_gate session` and
// draws the XFCE desktop.  The test reads the canvas's pixels, keeps screenshots
// in build/test-artifacts/, releases, and checks the ledger.  The
// session's VNC password reaches the owner's page and nobody else.  The
// page's "Jupyter" link opens the desktop's Jupyter through the gate.
//
// Skips itself, saying so, when the desktop image is not built (make images).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Wallet } from 'ethers';
import WebSocket from 'ws';
import { Stack, waitFor } from './lib/stack.mjs';
import { launchBrowser, pageWith, artifact } from './lib/browser.mjs';
import { sessionImage, podman } from './lib/images.mjs';

const { ref: image, skip } = sessionImage('desktop');
const NOVNC = '/usr/share/novnc';

// the ETag nginx's static module gives a file: "hex mtime-hex size"
function etagOf(path) {
    const st = statSync(path);
    return `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${st.size.toString(16)}"`;
}

const MINUTE = 2000;

const s = new Stack({
    sessions: true,
    env: { AXON_SESSION_IMAGE: image, AXON_SESSION_PORT: '6080' },
    workerConf: [
        'gpu_hosts local=0,1',
        'profiles "small:1:1"',
        `billing_minute ${MINUTE / 1000}s`,
        'session_grace 4s',             // a claim holds it: 2 minutes, not 5m / 2s
        'billing_tick 200ms',
        'reconcile_interval 2s',
        // XFCE under load on shared CPUs: a generous wait, not a timing
        'launcher_timeout 60s',
        'launcher_ready_timeout 2m',
    ].join('\n'),
});

let browser;
before(async () => {
    if (skip) return;
    await s.start();
    browser = await launchBrowser();
});
after(async () => {
    try {
        await browser?.close();
    } finally {
        await s.stop();
    }
});

// a WebSocket upgrade to the gate, as a browser sends it: the status only
function upgrade(path, headers = {}) {
    return new Promise((ok, fail) => {
        const req = request({
            host: '127.0.0.1', port: s.port, path, agent: false,
            headers: {
                connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
                'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'binary',
                ...headers,
            },
        });
        req.on('upgrade', (res, socket) => { socket.destroy(); ok(res.statusCode); });
        req.on('response', res => { res.resume(); ok(res.statusCode); });
        req.on('error', fail);
        req.end();
    });
}

// The RFB 3.8 handshake through the gate, up to the security types the
// VNC server offers: [count, type...] (1 VNC authentication: [1, 2])
async function securityTypes(path) {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, ['binary']);
    try {
        const got = [];
        ws.on('message', m => got.push(Buffer.from(m)));
        await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
        await waitFor(() => got.length >= 1, 'the RFB version');
        assert.equal(got.shift().toString(), 'RFB 003.008\n');
        ws.send(Buffer.from('RFB 003.008\n'));
        await waitFor(() => got.length >= 1, 'the security types');
        return [...got.shift()];
    } finally {
        ws.close();
    }
}

// Distinct colours among a grid of the noVNC canvas's pixels, read in the
// page (same origin: the canvas is not tainted), and its size.
async function canvasColours(frame) {
    return frame.evaluate(() => {
        const canvases = [...document.querySelectorAll('canvas')]
            .filter(c => c.width > 0 && c.height > 0)
            .sort((a, b) => b.width * b.height - a.width * a.height);
        if (!canvases.length) return { colours: 0 };
        const c = canvases[0];
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        const step = 7;
        for (let y = 0; y < c.height; y += step) {
            for (let x = 0; x < c.width; x += step) {
                const i = (y * c.width + x) * 4;
                seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
            }
        }
        return { colours: seen.size, width: c.width, height: c.height };
    });
}

test('sign in on the launch page, claim, see the XFCE desktop through the gate, release: the ledger has the minutes',
     { skip, timeout: 10 * 60 * 1000 }, async () => {
    const w = Wallet.createRandom();
    const addr = w.address.toLowerCase();
    const { page, context } = await pageWith(browser, w);
    // what the browser asked for: every HTTP response, every WebSocket
    const responses = [];
    const sockets = [];
    context.on('response', r => responses.push(r));
    // requests the browser began and has not finished, for the report
    const pending = new Map();
    context.on('request', r => pending.set(r, Date.now()));
    context.on('requestfinished', r => pending.delete(r));
    const failed = [];
    context.on('requestfailed', r => {
        pending.delete(r);
        failed.push(`${r.method()} ${new URL(r.url()).pathname}: ${r.failure()?.errorText}`);
    });
    const consoleSaid = [];
    page.on('console', m => consoleSaid.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', e => consoleSaid.push(`error: ${e.message}`));
    page.on('websocket', ws => sockets.push(ws.url()));
    // the first fetch of one of noVNC's modules dropped, as a connection
    // lost on the way: noVNC stays on its loading screen, and the page
    // loads it again
    let rfbFetches = 0;
    await context.route(/\/novnc\/core\/rfb\.js$/,
                        route => (rfbFetches++ === 0 ? route.abort('connectionreset') : route.continue()));
    try {
        await page.goto(s.url('/'));
        await page.click('#connect');
        await page.waitForSelector(`#who:text("${w.address}")`);

        s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
                'minutes', '100', 'ref', `desktop-${addr}`);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '100', 'the grant');
        await page.reload();
        await page.waitForSelector('#balance:text-is("100")');

        await page.locator('#profiles tbody tr').nth(0).locator('button').click();
        await page.waitForSelector('#session:not([hidden])');
        const id = Number((await page.textContent('#session-id')).replace('#', ''));
        assert.ok(id > 0);

        // the worker launches the desktop image; the page shows it when running
        await page.waitForSelector('#status:text("Running")', { timeout: 3 * 60 * 1000 });
        await page.waitForSelector('#desktop:not([hidden])');
        const name = `axgt-${basename(s.dir)}-${id}`;
        const ours = (...a) => podman('ps', ...a, '--format', '{{.Names}}', '--filter', `name=^${name}$`).out;
        assert.equal(ours(), name);

        // noVNC in the iframe (from nginx, /novnc/) connects through
        // /desktop/websockify and receives the framebuffer: not one flat
        // colour but XFCE's panel, wallpaper, icons
        const frame = await waitFor(() => page.frames().find(f => /\/novnc\/vnc\.html/.test(f.url())), 'the noVNC frame');
        let last;
        try {
            // connected first (polled inside the page, twice a second)
            await frame.waitForFunction(() => document.documentElement.classList.contains('noVNC_connected'),
                                        null, { polling: 500, timeout: 2 * 60 * 1000 });
            await waitFor(async () => {
                last = await canvasColours(frame).catch(() => ({ colours: 0 }));
                return last.colours >= 8;
            }, 'a framebuffer with the desktop drawn', 2 * 60 * 1000);
        } catch (e) {
            // what noVNC said, and what the page looked like, for the report
            await page.screenshot({ path: artifact('desktop-failed.png'), fullPage: true }).catch(() => {});
            const said = await frame.evaluate(() => `${document.documentElement.className}: ` +
                document.getElementById('noVNC_status')?.textContent).catch(err => String(err));
            // the browser's unfinished requests, and whether nginx saw each
            const log = readFileSync(join(s.logs, 'nginx-access.log'), 'utf8');
            const open = [...pending].map(([r, t]) => `${r.method()} ${new URL(r.url()).pathname} ` +
                `${Math.round((Date.now() - t) / 1000)} s, ${log.includes(new URL(r.url()).pathname) ? 'in' : 'not in'} nginx's log`);
            throw new Error(`${e.message}: ${JSON.stringify(last)}; noVNC ${said}; pending: ${open.join('; ') || 'none'}; failed: ${failed.join('; ') || 'none'}; console: ${consoleSaid.join(' | ')}`);
        }
        assert.ok(last.width >= 320 && last.height >= 200, JSON.stringify(last));
        assert.ok(rfbFetches >= 2, `rfb.js fetched ${rfbFetches} times`);
        assert.ok(consoleSaid.some(l => /noVNC still loading after \d+ s: loading it again \(1 of 3\)/.test(l)),
                  consoleSaid.join(' | '));

        // the client came from nginx's static files, not from the
        // container: each of its files bears the ETag nginx makes from this
        // host's copy (websockify sends none); nothing was asked under
        // /desktop/ but the WebSocket
        const base = s.url('/');
        const paths = responses.map(r => new URL(r.url()).pathname);
        const novnc = responses.filter(r => r.url().startsWith(`${base}novnc/`));
        assert.ok(novnc.some(r => new URL(r.url()).pathname === '/novnc/vnc.html'), paths.join(' '));
        assert.ok(novnc.length >= 20, `only ${novnc.length} noVNC files: ${paths.join(' ')}`);
        for (const r of novnc) {
            const file = join(NOVNC, new URL(r.url()).pathname.slice('/novnc/'.length));
            // (206: the bell, which the audio element asks for by ranges;
            // 404: package.json, whose version noVNC shows, not in Debian's)
            if (r.status() === 404) {
                assert.equal(existsSync(file), false, r.url());
                continue;
            }
            assert.ok([200, 206, 304].includes(r.status()), `${r.url()}: ${r.status()}`);
            assert.equal((await r.allHeaders()).etag, etagOf(file), r.url());
        }
        assert.deepEqual(paths.filter(p => p.startsWith('/desktop/')), []);
        assert.ok(sockets.length >= 1 && sockets.every(u => new URL(u).pathname === '/desktop/websockify'),
                  sockets.join(' '));

        // the session's VNC password: the owner's GET /api/session has it,
        // and the page gave it to noVNC in the URL's fragment only
        const token = (await context.cookies()).find(c => c.name === 'axon_token').value;
        const mine = await s.json('/api/session', { headers: { authorization: `Bearer ${token}` } });
        const password = mine.body.connect.password;
        assert.match(password, /^[A-Za-z0-9]{8}$/);
        assert.equal(new URL(frame.url()).hash, `#password=${password}`);
        assert.equal(new URL(frame.url()).search.includes(password), false);

        // the page's "Jupyter" link: the desktop's Jupyter through the gate,
        // its token (the VNC password) in the query once; in the browser
        // its file list comes, and then its own cookie is enough
        const jupyterHref = await page.getAttribute('#jupyter', 'href');
        assert.equal(jupyterHref, `/desktop/jupyter/tree?token=${password}`);
        assert.equal(await page.isVisible('#jupyter'), true);
        const jp = await context.newPage();
        await jp.goto(s.url(jupyterHref));
        await jp.waitForSelector('#notebook_list', { timeout: 60 * 1000 });
        await jp.goto(s.url('/desktop/jupyter/tree'));
        await jp.waitForSelector('#notebook_list', { timeout: 60 * 1000 });
        await jp.close();

        await page.screenshot({ path: artifact('desktop-launch-page.png'), fullPage: true });
        await frame.locator('canvas').first().screenshot({ path: artifact('desktop-canvas.png') });

        // the WebSocket: without a token 401; another wallet's token (no
        // session of its own) never reaches this one's; the owner's does
        assert.equal(await upgrade('/desktop/websockify'), 401);
        const other = await s.signIn(Wallet.createRandom());
        assert.equal(await upgrade(`/desktop/websockify?token=${other.token}`), 404);
        assert.equal(await upgrade('/desktop/websockify', { authorization: `Bearer ${other.token}` }), 404);
        assert.equal(await upgrade(`/desktop/websockify?token=${token}`), 101);

        // nor does another wallet get the password: its GET /api/session
        // is its own (none); the VNC server behind the gate asks for it
        // (VNC authentication, never None); and no log has it
        const theirs = await s.json('/api/session', { headers: { authorization: `Bearer ${other.token}` } });
        assert.equal(theirs.status, 404);
        assert.equal(JSON.stringify(theirs.body).includes(password), false);
        assert.deepEqual(await securityTypes(`/desktop/websockify?token=${token}`), [1, 2]);
        for (const f of readdirSync(s.logs)) {
            assert.equal(readFileSync(join(s.logs, f), 'utf8').includes(password), false, `${f} has the password`);
        }

        // a few minutes of use, then the page's release button
        await new Promise(r => setTimeout(r, 2 * MINUTE));
        await page.click('#release');
        await page.waitForSelector('#status:text("Ended")', { timeout: 60 * 1000 });
        await page.waitForSelector('#desktop', { state: 'hidden' });
        const said = Number(/(\d+) minutes billed/.exec(await page.textContent('#status'))[1]);

        // the ledger: one row per minute begun, 1 GPU x price 1, once each
        const [started, stopped, billed] = s.sql(`SELECT extract(epoch FROM started_at) * 1000, extract(epoch FROM stop_at) * 1000, billed_minutes FROM sessions WHERE id = ${id}`).split('|').map(Number);
        const minutes = Math.floor((stopped - started) / MINUTE) + 1;
        assert.ok(minutes >= 2, `minutes ${minutes}`);
        assert.equal(billed, minutes);
        assert.equal(said, minutes, 'the page says what the ledger billed');
        assert.equal(s.sql(`SELECT count(*) || ':' || sum(delta_minutes) FROM credit_ledger WHERE reference = 'session:${id}'`),
                     `${minutes}:${-minutes}`);
        assert.equal(s.sql(`SELECT balance FROM wallet_balances WHERE wallet = '${addr}'`), String(100 - minutes));
        await page.waitForSelector(`#balance:text-is("${100 - minutes}")`);

        // the container is gone, and the gate sends the page back
        await waitFor(() => ours('-a') === '', 'the container removed');
        assert.equal(await upgrade(`/desktop/websockify?token=${token}`), 404);
    } finally {
        await context.close();
    }
});
