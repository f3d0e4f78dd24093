// The launch page and the desktop location of conf/axon.conf, as the
// operator's drop-in serves them (the page's own flow in a browser is the
// desktop issue's Chromium test).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Wallet } from 'ethers';
import { Stack } from './lib/stack.mjs';

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
    for (const [path, type] of [['/app.js', /javascript/], ['/app.css', /text\/css/]]) {
        const r = await get(path);
        assert.equal(r.status, 200, path);
        assert.match(r.headers['content-type'], type, path);
    }
});

test('/desktop/: a browser without a session goes to the launch page; a WebSocket without a token is 401', async () => {
    const nav = await get('/desktop/vnc.html', { 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302);
    assert.match(nav.headers.location, /\/\?next=%2Fdesktop%2Fvnc\.html$/);

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
});
