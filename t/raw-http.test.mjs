// The API as raw HTTP, as clients and attackers send it: chunked bodies
// (one chunk, several, slow, mixed-case, with a trailer), bodies spooled to
// a temp file, bodies over the limits, Expect: 100-continue, pipelined
// requests, HTTP/1.0, headers and query strings at nginx's limits, repeated
// headers, bodies that are not JSON.  Every request gets its answer with
// the right status, no nginx worker exits, and nothing is logged above
// [warn].  Real nginx with the module, real Redis, ethers wallets.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { Wallet } from 'ethers';
import { Stack, freePort } from './lib/stack.mjs';

const s = new Stack({
    nginx: async st => {
        st.smallPort = await freePort();
        st.filePort = await freePort();
        // bodies past a small client_body_buffer_size, and every body in
        // a file: the two shapes of a spooled body
        return `
server {
    listen 127.0.0.1:${st.smallPort};
    client_body_buffer_size 1k;
    location /api/ { axon_api; }
}
server {
    listen 127.0.0.1:${st.filePort};
    client_body_in_file_only clean;
    location /api/ { axon_api; }
}
`;
    },
});

let token;

// the nginx worker processes (children of the master)
const workers = () => execFileSync('pgrep', ['-P', String(s.pid('nginx'))]).toString().trim().split('\n').sort();
let workersBefore;

before(async () => {
    await s.start();
    workersBefore = workers();
    ({ token } = await s.signIn(Wallet.createRandom()));
});

after(async () => {
    await s.stop();
});

// Sends the bytes (an array: written one after the other, with `pause` ms
// between them, to make a slow client) and reads until nginx closes the
// connection.  Returns every response in order: {status, headers, body}.
function exchange(parts, { port = s.port, pause = 0 } = {}) {
    if (!Array.isArray(parts)) parts = [parts];
    return new Promise((ok, fail) => {
        const c = connect(port, '127.0.0.1');
        const chunks = [];
        c.on('data', d => chunks.push(d));
        c.on('error', fail);
        c.on('end', () => ok(parseResponses(Buffer.concat(chunks).toString('latin1'))));
        c.on('connect', async () => {
            for (const p of parts) {
                c.write(p);
                if (pause) await new Promise(r => setTimeout(r, pause));
            }
        });
    });
}

function parseResponses(text) {
    const out = [];
    while (text.length) {
        const end = text.indexOf('\r\n\r\n');
        assert.ok(end > 0, `a response head in ${JSON.stringify(text.slice(0, 200))}`);
        const head = text.slice(0, end).split('\r\n');
        const status = Number(head[0].split(' ')[1]);
        const headers = {};
        for (const l of head.slice(1)) {
            const i = l.indexOf(':');
            headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        text = text.slice(end + 4);
        let body = '';
        if (status === 100) { out.push({ status, headers, body }); continue; }
        if (headers['content-length'] !== undefined) {
            const n = Number(headers['content-length']);
            body = text.slice(0, n);
            text = text.slice(n);
        } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
            for (;;) {
                const nl = text.indexOf('\r\n');
                const n = parseInt(text.slice(0, nl), 16);
                text = text.slice(nl + 2);
                if (n === 0) { text = text.slice(text.indexOf('\r\n') + 2); break; }
                body += text.slice(0, n);
                text = text.slice(n + 2);
            }
        } else {
            body = text;
            text = '';
        }
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        out.push({ status, headers, body, json });
    }
    return out;
}

const JSON_CT = 'Content-Type: application/json\r\n';

function chunked(path, chunks, { head = '', te = 'chunked', trailer = '', close = true } = {}) {
    return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${JSON_CT}Transfer-Encoding: ${te}\r\n${head}`
        + (close ? 'Connection: close\r\n' : '') + '\r\n'
        + chunks.map(c => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('')
        + `0\r\n${trailer}\r\n`;
}

function post(path, body, { head = '', ct = JSON_CT, close = true, version = '1.1' } = {}) {
    return `POST ${path} HTTP/${version}\r\nHost: 127.0.0.1\r\n${ct}Content-Length: ${Buffer.byteLength(body)}\r\n${head}`
        + (close ? 'Connection: close\r\n' : '') + `\r\n${body}`;
}

const signin = '{"message":"x","signature":"0x00"}';
const auth = () => `Authorization: Bearer ${token}\r\n`;

// every answer of the API is JSON with an error code, and not cached
function assertJsonError(r, status, code, what) {
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.equal(r.headers['content-type'], 'application/json', what);
    assert.equal(r.headers['cache-control'], 'no-store', what);
    if (code) assert.equal(r.json?.error?.code, code, `${what}: ${r.body}`);
}

test('a chunked JSON body is read, on every endpoint that takes one', async () => {
    const cases = [
        ['/api/auth/verify-wallet', '', 401, 'bad_message'],
        ['/api/release', '', 401, null],
        ['/api/x402/session', '', 404, null],
        ['/api/session', auth(), 400, null],
        ['/api/auth/verify-deposit', auth(), 400, null],
    ];
    for (const [path, head, status, code] of cases) {
        const [r] = await exchange(chunked(path, [signin], { head }));
        assertJsonError(r, status, code, path);
    }
});

test('chunked shapes: several chunks, a slow body, mixed case, a trailer, an empty body', async () => {
    const parts = ['{"message":', '"x",', '"signature":"0x00"}'];
    let [r] = await exchange(chunked('/api/auth/verify-wallet', parts));
    assertJsonError(r, 401, 'bad_message', 'several chunks');

    // the head, then each chunk on its own, then the end
    const whole = chunked('/api/auth/verify-wallet', parts);
    const bodyAt = whole.indexOf('\r\n\r\n') + 4;
    const pieces = [whole.slice(0, bodyAt)];
    for (let i = bodyAt; i < whole.length; i += 7) pieces.push(whole.slice(i, i + 7));
    [r] = await exchange(pieces, { pause: 20 });
    assertJsonError(r, 401, 'bad_message', 'slow body');

    [r] = await exchange(chunked('/api/auth/verify-wallet', [signin], { te: 'Chunked' }));
    assertJsonError(r, 401, 'bad_message', 'mixed case');

    [r] = await exchange(chunked('/api/auth/verify-wallet', [signin], { trailer: 'X-Trailer: 1\r\n' }));
    assertJsonError(r, 401, 'bad_message', 'a trailer');

    [r] = await exchange(chunked('/api/auth/verify-wallet', []));
    assertJsonError(r, 400, 'bad_json', 'no chunk at all');

    [r] = await exchange(post('/api/auth/verify-wallet', ''));
    assertJsonError(r, 400, 'bad_json', 'Content-Length: 0');
});

test('a body in a temp file: past client_body_buffer_size, or every body', async () => {
    // 5 KiB, in the limit of axon_body_max_size (16k), past a 1k buffer
    const big = JSON.stringify({ message: 'x', signature: '0x00', pad: 'p'.repeat(5000) });
    for (const port of [s.smallPort, s.filePort]) {
        let [r] = await exchange(post('/api/auth/verify-wallet', big), { port });
        assertJsonError(r, 401, 'bad_message', `length, port ${port}`);
        [r] = await exchange(chunked('/api/auth/verify-wallet', [big.slice(0, 3000), big.slice(3000)]), { port });
        assertJsonError(r, 401, 'bad_message', `chunked, port ${port}`);
        [r] = await exchange(chunked('/api/auth/verify-wallet', [signin]), { port });
        assertJsonError(r, 401, 'bad_message', `small chunked, port ${port}`);
    }
});

test('bodies over axon_body_max_size are 413, chunked or not, in memory or in a file', async () => {
    const huge = JSON.stringify({ pad: 'p'.repeat(20000) });
    for (const port of [s.port, s.smallPort, s.filePort]) {
        let [r] = await exchange(post('/api/auth/verify-wallet', huge), { port });
        assertJsonError(r, 413, 'body_too_large', `length, port ${port}`);
        [r] = await exchange(chunked('/api/auth/verify-wallet', [huge.slice(0, 9000), huge.slice(9000)]), { port });
        assertJsonError(r, 413, 'body_too_large', `chunked, port ${port}`);
    }
});

test('past client_max_body_size (nginx\'s own 413): JSON too, no-store, no 100 Continue', async () => {
    // 2 MB announced: nginx refuses it before the module (1m by default)
    let [r] = await exchange(`POST /api/auth/verify-wallet HTTP/1.1\r\nHost: 127.0.0.1\r\n${JSON_CT}`
        + 'Content-Length: 2000000\r\nConnection: close\r\n\r\n{');
    assertJsonError(r, 413, 'body_too_large', 'nginx\'s 413');
    const rs = await exchange(`POST /api/x402/session HTTP/1.1\r\nHost: 127.0.0.1\r\n${JSON_CT}`
        + 'Content-Length: 2000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.deepEqual(rs.map(x => x.status), [413]);
    assertJsonError(rs[0], 413, 'body_too_large', 'nginx\'s 413 to an Expect');
});

test('Expect: 100-continue: 413 at once for a body over the limit, 100 then the answer within it', async () => {
    // only the head: a client that waits for 100 Continue before its body
    let rs = await exchange(`POST /api/auth/verify-wallet HTTP/1.1\r\nHost: 127.0.0.1\r\n${JSON_CT}`
        + 'Content-Length: 500000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.equal(rs.length, 1, rs.map(r => r.status).join(','));
    assertJsonError(rs[0], 413, 'body_too_large', 'over the limit');

    // a refusal before the body (not JSON) is not invited either
    rs = await exchange(`POST /api/auth/verify-wallet HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n`
        + 'Content-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.deepEqual(rs.map(r => r.status), [415]);

    const head = `POST /api/auth/verify-wallet HTTP/1.1\r\nHost: 127.0.0.1\r\n${JSON_CT}`
        + `Content-Length: ${signin.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    rs = await new Promise((ok, fail) => {
        const c = connect(s.port, '127.0.0.1');
        let text = '', sent = false;
        c.on('data', d => {
            text += d.toString('latin1');
            if (!sent && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) { sent = true; c.write(signin); }
        });
        c.on('error', fail);
        c.on('end', () => ok(parseResponses(text)));
        c.write(head);
    });
    assert.deepEqual(rs.map(r => r.status), [100, 401]);
    assert.equal(rs[1].json.error.code, 'bad_message');
});

test('a body that is not application/json is 415, before anything is read or done', async () => {
    for (const ct of ['Content-Type: text/plain\r\n', 'Content-Type: application/x-www-form-urlencoded\r\n',
        'Content-Type: multipart/form-data; boundary=x\r\n', '', 'Content-Type: application/jsonx\r\n']) {
        const [r] = await exchange(post('/api/auth/verify-wallet', signin, { ct }));
        assertJsonError(r, 415, 'unsupported_media_type', JSON.stringify(ct));
    }
    for (const ct of ['Content-Type: application/json; charset=utf-8\r\n', 'Content-Type: Application/JSON\r\n']) {
        const [r] = await exchange(post('/api/auth/verify-wallet', signin, { ct }));
        assertJsonError(r, 401, 'bad_message', JSON.stringify(ct));
    }
});

test('pipelined requests are answered in order on one connection; HTTP/1.0 too', async () => {
    const rs = await exchange(
        'GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
        + chunked('/api/auth/verify-wallet', [signin], { close: false })
        + post('/api/auth/verify-wallet', '{', { close: false })
        + 'GET /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.deepEqual(rs.map(r => r.status), [200, 401, 400, 404]);
    assert.deepEqual(rs.slice(1).map(r => r.json.error.code), ['bad_message', 'bad_json', 'not_found']);

    const [r] = await exchange(post('/api/auth/verify-wallet', signin, { version: '1.0', close: false }));
    assertJsonError(r, 401, 'bad_message', 'HTTP/1.0');
    // HTTP/1.0 cannot send a chunked body: nginx refuses it itself
    const [c] = await exchange(chunked('/api/auth/verify-wallet', [signin]).replace('HTTP/1.1', 'HTTP/1.0'));
    assert.equal(c.status, 400);
});

test('headers and query strings at nginx\'s limits, repeated headers', async () => {
    // a query string just within large_client_header_buffers (8k)
    const long = 'a'.repeat(7000);
    let [r] = await exchange(`GET /api/auth/challenge?address=${long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assertJsonError(r, 400, null, 'a long address');
    // past it: nginx's own 414, and a header line past it: 400
    [r] = await exchange(`GET /api/health?x=${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 414);
    [r] = await exchange(`GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: axon_token=${'a'.repeat(9000)}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 400);
    // a token of the longest header nginx takes, unknown
    [r] = await exchange(`GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(8000)}\r\nConnection: close\r\n\r\n`);
    assertJsonError(r, 401, null, 'a huge bearer token');

    // the same header twice
    [r] = await exchange(`GET /api/me HTTP/1.1\r\nHost: x\r\n${auth()}${auth()}Connection: close\r\n\r\n`);
    assert.ok([200, 400, 401].includes(r.status), `two Authorization headers: ${r.status}`);
    [r] = await exchange(`GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: axon_token=${token}\r\nCookie: axon_token=bad\r\nConnection: close\r\n\r\n`);
    assert.ok([200, 401].includes(r.status), `two cookies: ${r.status}`);
    [r] = await exchange(post('/api/auth/verify-wallet', signin, { head: `Content-Length: ${signin.length}\r\n` }));
    assert.equal(r.status, 400, 'two Content-Length headers');
    [r] = await exchange(post('/api/auth/verify-wallet', signin, { head: JSON_CT }));
    assertJsonError(r, 401, 'bad_message', 'two Content-Type headers, both JSON');
    [r] = await exchange(chunked('/api/auth/verify-wallet', [signin], { head: `Content-Length: ${signin.length}\r\n` }));
    assert.equal(r.status, 400, 'chunked and Content-Length');
});

test('no nginx worker exited, nothing logged above [warn]', () => {
    assert.deepEqual(workers(), workersBefore);
    // but nginx core's own line for a body past client_max_body_size,
    // which it logs at [error] whatever the configuration
    const log = s.log('nginx-error.log').split('\n')
        .filter(l => !/client intended to send too large body: 2000000 bytes/.test(l)).join('\n');
    assert.doesNotMatch(log, /exited on signal|\[(error|crit|alert|emerg)\]/);
});
