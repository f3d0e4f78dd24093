// Sign-in load for scripts/bench, against a running gate.
//
//   node bench/signin.mjs token URL
//       signs in once, prints the token (for wrk's Authorization header)
//   node bench/signin.mjs prepare URL N FILE
//       asks N challenges and signs them (ethers), writes them to FILE
//   node bench/signin.mjs verify URL FILE CONCURRENCY
//       posts every prepared sign-in to verify-wallet, CONCURRENCY at a
//       time over keep-alive connections; prints
//       "signins=N errors=E secs=S"
//   node bench/signin.mjs challenges URL N CONCURRENCY
//       asks N challenges of one address the same way: one HTTP request
//       and one Redis round trip each, as a sign-in, without the
//       recovery (the floor under a sign-in); prints
//       "challenges=N errors=E secs=S"
//
// prepare and verify are apart so that the CPU the bench counts on the
// gate's side is spent on verify-wallet alone.

import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Wallet } from 'ethers';

const [mode, base, ...rest] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(method, path, body) {
    return new Promise((ok, fail) => {
        const u = new URL(path, base);
        const req = request({
            host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent,
            headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
        }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { text += d; });
            res.on('end', () => ok({ status: res.statusCode, text }));
        });
        req.on('error', fail);
        req.end(body);
    });
}

// n requests, concurrency at a time (one(i) makes the i-th); prints
// "WHAT=N errors=E secs=S", N the answers of 200
async function load(what, n, concurrency, one) {
    let next = 0;
    let errors = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
        while (next < n) {
            if ((await one(next++)).status !== 200) errors++;
        }
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${what}=${n - errors} errors=${errors} secs=${secs.toFixed(3)}`);
    agent.destroy();
}

async function challenge(w) {
    const c = await call('GET', `/api/auth/challenge?address=${w.address}`);
    if (c.status !== 200) throw new Error(`challenge: ${c.status} ${c.text}`);
    const { message } = JSON.parse(c.text);
    return { message, signature: await w.signMessage(message) };
}

if (mode === 'token') {
    const p = await challenge(Wallet.createRandom());
    const v = await call('POST', '/api/auth/verify-wallet', JSON.stringify(p));
    if (v.status !== 200) throw new Error(`verify-wallet: ${v.status} ${v.text}`);
    console.log(JSON.parse(v.text).token);

} else if (mode === 'prepare') {
    const [n, file] = rest;
    const w = Wallet.createRandom();
    const out = [];
    for (let i = 0; i < Number(n); i++) out.push(JSON.stringify(await challenge(w)));
    writeFileSync(file, out.join('\n'));

} else if (mode === 'verify') {
    const [file, concurrency] = rest;
    const bodies = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    await load('signins', bodies.length, concurrency,
        (i) => call('POST', '/api/auth/verify-wallet', bodies[i]));

} else if (mode === 'challenges') {
    const [n, concurrency] = rest;
    const path = `/api/auth/challenge?address=${Wallet.createRandom().address}`;
    await load('challenges', Number(n), concurrency, () => call('GET', path));

} else {
    console.error('usage: signin.mjs token URL | prepare URL N FILE | verify URL FILE CONCURRENCY'
        + ' | challenges URL N CONCURRENCY');
    process.exit(2);
}
