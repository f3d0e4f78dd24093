// Prometheus metrics, end to end: known activity through the real stack
// (sign-ins, some refused; jobs queued with redis-cli; GPU sessions in
// podman; an upgrade through the gate; a malformed x402 payment; the local
// chain's head), then the gate's /metrics and the worker's metrics_listen
// (the main process, and the x402 process at the next port) checked by
// Debian's promtool, scraped by a real Prometheus, and its HTTP API asked
// for the values that activity gives.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { request, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, ROOT, freePort, portIsFree, waitFor } from './lib/stack.mjs';

const N_OK = 3;             // sign-ins that succeed
const N_WRONG = 2;          // refused: wrong_signer
const N_BAD = 1;            // refused: bad_message
const M = 4;                // credit.grant jobs
const K = 2;                // sessions, claimed, run, released
const GRANT = 50;           // minutes each grant

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl agent@test';

const s = new Stack({
    sessions: true,
    chain: true,
    workerConf: [
        'gpu_hosts local=0,1,2,3',
        'profiles "small:1:1"',
        'billing_minute 2s',
        'billing_tick 200ms',
        'heartbeat_interval 200ms',
        'session_idle_timeout 0',
        'session_grace 3s',
        'reconcile_interval 1s',
        'launcher_timeout 20s',
        'launcher_ready_timeout 20s',
        'ssh_sessions off',
    ].join('\n'),
    nginx: async st => {
        st.gatePort = await freePort();
        return `
server {
    listen 127.0.0.1:${st.gatePort};
    location /desktop/ {
        axon_gate session;
        proxy_pass http://$axon_upstream/;
    }
    location /ws/ {
        axon_gate on;
        proxy_http_version  1.1;
        proxy_set_header    Upgrade $http_upgrade;
        proxy_set_header    Connection "upgrade";
        proxy_pass          http://127.0.0.1:${st.echoPort = await freePort()};
    }
}
`;
    },
});

let promDir, prom, promPort;

// behind /ws/: answers an upgrade with 101, then echoes every byte
const echo = createServer((req, res) => res.end());
echo.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                 + 'Connection: Upgrade\r\n\r\n');
    socket.pipe(socket);
});

before(async () => {
    // two ports in a row: the main process's and the x402 process's
    do {
        s.metricsPort = await freePort();
    } while (!await portIsFree(s.metricsPort + 1));
    s.opts.workerConf += `\nmetrics_listen 127.0.0.1:${s.metricsPort}`;
    await s.start();
    await new Promise(r => echo.listen(s.echoPort, '127.0.0.1', r));
});

after(async () => {
    if (prom) {
        prom.kill('SIGTERM');
        await new Promise(r => prom.exitCode !== null ? r() : prom.on('exit', r));
    }
    if (promDir) rmSync(promDir, { recursive: true, force: true });
    echo.close();
    await s.stop();
});

const gateMetrics = async () => (await s.fetch('/metrics')).text();
const workerMetrics = async (plus = 0) =>
    (await fetch(`http://127.0.0.1:${s.metricsPort + plus}/metrics`)).text();

// the value of one series of a text exposition, or undefined
function value(text, series) {
    const line = text.split('\n').find(l => l.startsWith(series + ' '));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const auth = token => ({ authorization: `Bearer ${token}` });
let refs = 0;
function grant(addr, minutes) {
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
            'minutes', String(minutes), 'ref', `metrics-${process.pid}-${++refs}`);
}

async function verify(message, signature) {
    return s.json('/api/auth/verify-wallet', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message, signature }),
    });
}

// an upgrade request through the gate to the session (the test image
// answers it as a plain GET)
function upgrade(token) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.gatePort, path: '/desktop/', agent: false,
                              headers: { ...auth(token), connection: 'Upgrade', upgrade: 'websocket' } }, res => {
            res.resume();
            res.on('end', () => ok(res.statusCode));
        });
        req.on('upgrade', (res, socket) => { socket.destroy(); ok(res.statusCode); });
        req.on('error', fail);
        req.end();
    });
}

const users = [];
let debited;

test('known activity: sign-ins, jobs, sessions, an upgrade', async () => {
    // N_OK sign-ins, each a wallet of its own; each queues an auth.signin job
    for (let i = 0; i < N_OK; i++) {
        const w = Wallet.createRandom();
        const { token } = await s.signIn(w);
        users.push({ w, token, addr: w.address.toLowerCase() });
    }

    // refused: the message signed by another key, and no message at all
    for (let i = 0; i < N_WRONG; i++) {
        const w = Wallet.createRandom();
        const c = await s.json(`/api/auth/challenge?address=${w.address}`);
        const v = await verify(c.body.message, await Wallet.createRandom().signMessage(c.body.message));
        assert.equal(v.status, 401);
        assert.equal(v.body.error.code, 'wrong_signer');
    }
    for (let i = 0; i < N_BAD; i++) {
        const v = await verify('hello', '0x00');
        assert.equal(v.body.error.code, 'bad_message');
    }

    // M grants, one job each, and one job of a kind nobody knows
    for (let i = 0; i < M; i++) grant(users[i % users.length].addr, GRANT);
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'no.such.kind');
    await waitFor(() => Number(s.sql('SELECT count(*) FROM credit_ledger WHERE kind = \'grant\'')) === M, 'the grants');

    // K sessions at once; the GPUs they use, seen by a scrape while they run
    const runners = users.slice(0, K);
    for (const u of runners) {
        const r = await s.api('/api/session', u.token, 'POST', { profile: 'small' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        u.id = r.body.session_id;
    }
    for (const u of runners) {
        await waitFor(async () => (await s.api('/api/session', u.token)).body.status === 'running',
            `session ${u.id} running`, 90000);
    }
    const running = await workerMetrics();
    assert.equal(value(running, 'axon_sessions{state="running"}'), K);
    assert.equal(value(running, 'axon_gpus{host="local",state="used"}'), K);
    assert.equal(value(running, 'axon_gpus{host="local",state="free"}'), 4 - K);

    // an upgrade the gate lets through, to the first session
    assert.equal(await upgrade(runners[0].token), 200);

    // an x402 payment that is not one
    const pay = await s.json('/api/x402/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'PAYMENT-SIGNATURE': 'not base64!!' },
        body: JSON.stringify({ profile: 'small', minutes: 30, ssh_public_key: KEY }),
    });
    assert.equal(pay.status, 400, JSON.stringify(pay.body));
    assert.equal(pay.body.error.code, 'invalid_payment_header');

    for (const u of runners) {
        assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
    }
    for (const u of runners) {
        await waitFor(async () => (await s.api('/api/session', u.token)).body.status === 'ended',
            `session ${u.id} ended`, 90000);
    }
    await waitFor(() => s.sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL') === '0', 'GPUs free');

    debited = Number(s.sql('SELECT coalesce(-sum(delta_minutes), 0) FROM credit_ledger WHERE delta_minutes < 0'));
    assert.ok(debited >= K, `debited ${debited}`);

    // the worker has run every job the activity queued
    await waitFor(async () => value(await workerMetrics(),
        'axon_worker_jobs_total{kind="auth.signin",outcome="done"}') === N_OK, 'the sign-in jobs');
});

// an upgraded connection through the gate: open while it lasts, its bytes
// counted when it closes
test('WebSockets: open, then closed with its bytes both ways', async () => {
    const WS = 100000;
    const before = await gateMetrics();
    const socket = await new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.gatePort, path: '/ws/', agent: false,
                              headers: { ...auth(users[0].token), connection: 'Upgrade', upgrade: 'websocket' } });
        req.on('upgrade', (res, sock) => ok(sock));
        req.on('response', res => fail(new Error(`no upgrade: ${res.statusCode}`)));
        req.on('error', fail);
        req.end();
    });
    try {
        assert.equal(value(await gateMetrics(), 'axon_websocket_connections'), 1, 'open');
        let got = 0;
        await new Promise(r => {
            socket.on('data', d => { got += d.length; if (got >= WS) r(); });
            socket.write(Buffer.alloc(WS, 'x'));
        });
        await new Promise(r => { socket.on('close', r); socket.end(); });
    } finally {
        socket.destroy();
    }
    const closed = () => gateMetrics().then(t => value(t, 'axon_websocket_connections') === 0 ? t : null);
    const after = await waitFor(closed, 'the connection closed at the gate');
    const bytes = (t, d) => value(t, `axon_websocket_bytes_total{direction="${d}"}`);
    // the payload, and the headers of the upgrade (under 1k each way)
    for (const d of ['in', 'out']) {
        const n = bytes(after, d) - bytes(before, d);
        assert.ok(n >= WS && n < WS + 1024, `${d}: ${n}`);
    }
    assert.equal(value(after, 'axon_websocket_connections_total')
                 - value(before, 'axon_websocket_connections_total'), 1);
    assert.equal(value(after, 'axon_http_requests_total{route="gate",status="101"}'), 1);
});

test('promtool check metrics accepts the gate\'s and both worker processes\'', async () => {
    for (const [name, text] of [['gate', await gateMetrics()], ['worker', await workerMetrics()],
                                ['x402 process', await workerMetrics(1)]]) {
        const r = spawnSync('promtool', ['check', 'metrics'], { input: text });
        assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
        assert.match(text, /^axon_/m);
    }
});

test('the gate serves /metrics to the local machine only, GET and HEAD', async () => {
    // 127.0.0.2 is this machine too, but not an address conf/axon.conf allows
    const other = await new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.port, path: '/metrics', agent: false,
                              localAddress: '127.0.0.2' }, res => { res.resume(); ok(res.statusCode); });
        req.on('error', fail);
        req.end();
    });
    assert.equal(other, 403);
    const r = await s.fetch('/metrics', { method: 'POST' });
    assert.equal(r.status, 405);
    assert.equal((await s.fetch('/metrics', { method: 'HEAD' })).status, 200);
    const text = await gateMetrics();
    assert.equal(value(text, 'axon_token_cache_evictions_total'), 0);
    assert.ok(value(text, 'axon_token_cache_hits_total') + value(text, 'axon_token_cache_misses_total') > 0);
    assert.equal(value(text, 'axon_websocket_connections'), 0, 'closed: none open');
    assert.equal((await fetch(`http://127.0.0.1:${s.metricsPort}/nothing`)).status, 404);
});

test('a real Prometheus scrapes both, and its queries give what the activity did', async () => {
    promDir = mkdtempSync(join(tmpdir(), 'axon-prom-'));
    promPort = await freePort();
    writeFileSync(join(promDir, 'prometheus.yml'), `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gate
    static_configs: [{ targets: ['127.0.0.1:${s.port}'] }]
  - job_name: worker
    static_configs: [{ targets: ['127.0.0.1:${s.metricsPort}', '127.0.0.1:${s.metricsPort + 1}'] }]
`);
    prom = spawn('prometheus', [
        `--config.file=${join(promDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr.on('data', d => { promLog += d; });

    // at a time: the worker answers a scrape between two units of work, and
    // one of them (podman's container list) can outlast a 1 s scrape
    // timeout, which leaves that target's series stale until its next
    // scrape; so the queries are asked at a time all three were scraped
    let at;
    const query = async (q, time = at) => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`
                              + (time ? `&time=${time}` : ''));
        const body = await r.json();
        assert.equal(body.status, 'success', JSON.stringify(body));
        return body.data.result;
    };
    const one = async q => {
        const r = await query(q);
        assert.equal(r.length, 1, `${q}: ${JSON.stringify(r)}`);
        return Number(r[0].value[1]);
    };

    // a scrape of the three, each after all the activity
    const since = Date.now() / 1000;
    await waitFor(async () => {
        if (prom.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
        const up = await query('timestamp(up == 1)', null).catch(() => []);
        if (up.length !== 3 || !up.every(x => Number(x.value[1]) > since)) return false;
        at = Math.max(...up.map(x => Number(x.value[1])));
        return true;
    }, 'Prometheus scraped the gate and both worker processes');

    // the gate
    assert.equal(await one('axon_signins_total{outcome="ok"}'), N_OK);
    assert.equal(await one('axon_signins_total{reason="wrong_signer"}'), N_WRONG);
    assert.equal(await one('axon_signins_total{reason="bad_message"}'), N_BAD);
    assert.equal(await one('sum(axon_signins_total{outcome="refused"})'), N_WRONG + N_BAD);
    assert.equal(await one('axon_http_requests_total{route="auth/verify-wallet",status="200"}'), N_OK);
    assert.equal(await one('axon_http_requests_total{route="auth/verify-wallet",status="401"}'), N_WRONG + N_BAD);
    assert.equal(await one('axon_http_requests_total{route="release",status="202"}'), K);
    assert.equal(await one('axon_websocket_connections_total'), 2);
    assert.equal(await one('axon_websocket_connections'), 0);
    assert.equal(await one('sum(axon_redis_errors_total)'), 0);
    assert.ok(await one('axon_redis_rtt_seconds_count') > 0);
    assert.equal(await one('axon_x402_payments_total{outcome="malformed"}'), 1);
    assert.equal(await one('sum(axon_x402_payments_total)'), 1);

    // the worker: its two processes' counters add up; axon:jobs:dead is
    // one list, which both report
    assert.equal(await one('sum(axon_worker_jobs_total{kind="auth.signin",outcome="done"})'), N_OK);
    assert.equal(await one('sum(axon_worker_jobs_total{kind="credit.grant",outcome="done"})'), M);
    assert.equal(await one('sum(axon_worker_jobs_total{kind="session.claim",outcome="done"})'), K);
    assert.equal(await one('sum(axon_worker_jobs_total{kind="unknown",outcome="refused"})'), 1);
    assert.equal(await one('max(axon_worker_dead_letters)'), 1);
    assert.equal(await one('axon_sessions{state="ended"}'), K);
    assert.equal(await one('sum(axon_sessions{state!="ended"})'), 0);
    assert.equal(await one('axon_gpus{state="free"}'), 4);
    assert.equal(await one('axon_ledger_credits_total{direction="credited"}'), M * GRANT);
    assert.equal(await one('axon_ledger_credits_total{direction="debited"}'), debited);
    assert.ok(await one('axon_worker_billing_tick_seconds_count') > 0);
    assert.equal(await one('axon_worker_info{process="main"}'), 1);
    assert.equal(await one('axon_worker_info{process="x402"}'), 1);
    assert.equal(await one('sum(axon_worker_jobs_total{kind="x402.pay"})'), 0);
    assert.equal(await one('sum(axon_worker_rpc_errors_total)'), 0);

    // the chain's head as the indexer saw it; its cursor from Postgres
    const head = await s.blockNumber();
    const cursor = Number(s.sql('SELECT block FROM deposit_cursor'));
    assert.equal(await one('axon_worker_chain_head_block'), head);
    assert.equal(await one('axon_worker_indexer_lag_blocks'), head - cursor);

    // the Grafana dashboard's queries are ones Prometheus takes, over
    // series it has
    const dash = JSON.parse(readFileSync(join(ROOT, 'conf/grafana-axon.json'), 'utf8'));
    const exprs = dash.panels.flatMap(p => (p.targets || []).map(t => t.expr));
    assert.ok(exprs.length >= 16);
    for (const e of exprs) {
        const series = e.match(/axon_[a-z0-9_]+/g);
        assert.ok(series, e);
        for (const name of series) {
            const bare = name.replace(/_(bucket|sum|count)$/, '');
            assert.ok((await query(`count({__name__=~"${bare}(_bucket)?"})`)).length, `${e}: ${name} scraped`);
        }
        await query(e.replaceAll('$__rate_interval', '1m'));
    }
});
