// The launch page, noVNC and the desktop location of conf/axon.conf, as the
// operator's drop-in serves them (the page's own flow in a browser is the
// Chromium test, t/desktop-browser.test.mjs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import WebSocket, { WebSocketServer } from 'ws';
import { Stack } from './lib/stack.mjs';

// Debian's novnc package (scripts/deps), which conf/axon.conf serves
const NOVNC = '/usr/share/novnc';

// the ETag nginx's static module gives a file: "hex mtime-hex size"
function etagOf(path) {
    const st = statSync(path);
    return `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${st.size.toString(16)}"`;
}

const s = new Stack();
before(() => s.start());
after(() => s.stop());

function get(path, headers = {}) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.port, path, headers, agent: false }, res => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => ok({ status: res.statusCode, headers: res.headers, text }));
        });
        req.on('error', fail);
        req.end();
    });
}

test('GET / is the launch page with its script and style', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.match(page.text, /<script src="\/app\.js" defer>/);
    // its buttons pay and start billed sessions: framed by no other page
    // (clickjacking), its own script only, no referrer to other origins
    assert.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.match(page.headers['content-security-policy'], /default-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'same-origin');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    // noVNC, which it frames: by this origin only
    const novnc = await get('/novnc/vnc.html');
    assert.match(novnc.headers['content-security-policy'], /frame-ancestors 'self'/);
    assert.equal(novnc.headers['x-frame-options'], 'SAMEORIGIN');
    for (const [path, type] of [['/app.js', /javascript/], ['/app.css', /text\/css/]]) {
        const r = await get(path);
        assert.equal(r.status, 200, path);
        assert.match(r.headers['content-type'], type, path);
    }
});

test('/novnc/: noVNC from Debian\'s package, served by nginx itself, no token needed', async () => {
    const page = await get('/novnc/vnc.html');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.equal(page.text, readFileSync(join(NOVNC, 'vnc.html'), 'utf8'));
    // nginx's static module: ETag "mtime-size" of the file on this host
    // (websockify, the container's server, sends none), and our caching
    assert.equal(page.headers.etag, etagOf(join(NOVNC, 'vnc.html')));
    assert.equal(page.headers['cache-control'], 'public, max-age=3600');
    assert.equal((await get('/novnc/')).text, page.text, 'vnc.html is the index');

    // every file the client loads (ES modules need a JavaScript type)
    for (const [path, type] of [
        ['app/ui.js', /^application\/javascript$/], ['core/rfb.js', /^application\/javascript$/],
        ['vendor/pako/lib/zlib/inflate.js', /^application\/javascript$/],
        ['app/styles/base.css', /^text\/css$/], ['app/locale/de.json', /^application\/json$/],
        ['app/images/connect.svg', /^image\/svg\+xml$/], ['app/images/icons/novnc-16x16.png', /^image\/png$/],
        ['app/sounds/bell.oga', /^audio\/ogg$/], ['app/styles/Orbitron700.woff', /^font\/woff$/],
    ]) {
        const r = await get(`/novnc/${path}`);
        assert.equal(r.status, 200, path);
        assert.match(r.headers['content-type'], type, path);
        assert.equal(r.headers.etag, etagOf(join(NOVNC, path)), path);
    }
    const again = await get('/novnc/app/ui.js', { 'if-none-match': etagOf(join(NOVNC, 'app/ui.js')) });
    assert.equal(again.status, 304);

    // the package's scripts are not served
    assert.equal((await get('/novnc/utils/novnc_proxy')).status, 404);
});

test('/desktop/: only the gated WebSocket; a WebSocket without a token is 401, without a session 404', async () => {
    // noVNC's page is no longer under /desktop/: an old address goes to
    // the launch page, token or not
    const nav = await get('/desktop/vnc.html', { 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302);
    assert.match(nav.headers.location, /^http:\/\/[^/]+\/$/);

    const ws = await get('/desktop/websockify', {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(ws.status, 401);

    const { token } = await s.signIn(Wallet.createRandom());
    const none = await get(`/desktop/websockify?token=${token}`, {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(none.status, 404, 'signed in, but no session');
    assert.equal((await get(`/desktop/vnc.html?token=${token}`)).status, 302);
});

test('/desktop/websockify: the owner\'s WebSocket reaches its session\'s upstream, without the token', async () => {
    // a stand-in for the container's websockify: what it was asked, and an echo
    const seen = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws, req) => {
        seen.push({ url: req.url, headers: req.headers });
        ws.on('message', m => ws.send(m));
    });
    await new Promise(ok => wss.once('listening', ok));
    try {
        const w = Wallet.createRandom();
        const addr = w.address.toLowerCase();
        const { token } = await s.signIn(w);
        const id = 900000000 + Math.floor(Math.random() * 1000000);
        s.redis('HSET', `axon:session:${id}`, 'id', String(id), 'wallet', addr, 'state', 'running',
                'mode', 'desktop', 'gpus', '1', 'upstream', `127.0.0.1:${wss.address().port}`);
        s.redis('HSET', `axon:wallet:${addr}`, 'session', String(id));

        // as a browser sends it: the cookie (and here the query and the
        // header too, the other two ways the gate takes a token)
        const ws = new WebSocket(`ws://127.0.0.1:${s.port}/desktop/websockify?token=${token}`, ['binary'], {
            headers: { cookie: `axon_token=${token}; other=1`, authorization: `Bearer ${token}` },
        });
        await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
        const echo = new Promise(ok => ws.once('message', m => ok(String(m))));
        ws.send('hello');
        assert.equal(await echo, 'hello');
        ws.close();

        assert.equal(seen.length, 1);
        assert.equal(seen[0].url, '/websockify');
        assert.equal(seen[0].headers.cookie, undefined);
        assert.equal(seen[0].headers.authorization, undefined);
        assert.equal(JSON.stringify(seen[0]).includes(token), false);
        assert.equal(seen[0].headers.upgrade, 'websocket');
    } finally {
        wss.close();
    }
});
