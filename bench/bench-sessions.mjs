// GPU sessions (scripts/bench calls it; it runs alone too, after make):
//
//   node bench/bench-sessions.mjs
//
// 1. One billing tick over BENCH_SESSIONS (10000) synthetic running
//    sessions, each of its own wallet, with BENCH_DUE (1) minutes due (a
//    tick each minute): the SQL of the tick (axon_billing_tick: 10,000
//    ledger rows, 10,000 balances), timed in Postgres (wall, and the
//    backend's CPU time), BENCH_TICKS (3) ticks, each over fresh sessions.
//    Goal: < 1 s.
// 2. Claim -> scheduled on an empty pool: BENCH_CLAIMS (200) claims one
//    after the other, each from POST /api/session (202) until Redis shows
//    the session `starting` (GPUs assigned): read with HGET each time
//    Redis tells of a change of the session's hash (keyspace
//    notifications), not polled in a loop, which took a CPU from the
//    worker; the launch is excluded (the worker's container CLI is a
//    script whose `run` fails and whose `stop`, `rm` and `ps` succeed with
//    nothing, so each launch fails at once, and the stop that follows frees
//    its GPUs and port; the next claim comes BENCH_CLAIM_GAP (20) ms after
//    the session is `ended`, the worker idle again).  p50, p99.  Goal: p99
//    < 20 ms.
//
// 3. Claim -> scheduled during an x402 flood: the same measure on a stack
//    with the local chain and x402 on (x402_settle self), in BENCH_ROUNDS_X
//    (6) rounds of BENCH_CLAIMS_X (40) claims, alternating: quiet, then
//    while BENCH_FLOOD_PARALLEL (16) clients post well-formed x402
//    payments from fresh, unfunded keys (signed by the x402 SDK beforehand,
//    to a server without limit_req: the worst case, past what the per-
//    address limit lets through) without pause.  p99 of each, and their
//    ratio.  Goal: <= 1.5x.
//
// 4. Claim -> scheduled over two hosts and two workers: 1,000 claims
//    (BENCH_HOSTS_CLAIMS) from BENCH_HOSTS_PARALLEL (4) wallets at once,
//    each claiming again once its last session ended (the launch fails at
//    once, as in 2: the GPUs and port are released by the stop), on a
//    stack whose two workers share Redis and Postgres, each with its own
//    host of 4 GPUs (gpu_hosts a=0-3 and b=0-3, the fake CLI), against as
//    many on a stack of one worker and one host of 8 GPUs, alternating
//    BENCH_HOSTS_ROUNDS (5) rounds.  p50, p99 of each, their ratio (goal:
//    <= 1.2x), the claims each host got; then no GPU in two live sessions
//    at once: the exclusive index in force, and over the run's
//    assignments, each GPU's in the order they were made (ids): each ended
//    before the next began, and all are released at the end.
//
// BENCH_ONLY=billing, claims, flood or hosts runs one of the four.
//
// Prints raw lines on stdout (sessions ...), progress on stderr.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { x402Client } from '@x402/fetch';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http';
import { BUILD, Stack, freePort, waitFor } from '../t/lib/stack.mjs';

const N = Number(process.env.BENCH_SESSIONS || 10000);
const TICKS = Number(process.env.BENCH_TICKS || 3);
const CLAIMS = Number(process.env.BENCH_CLAIMS || 200);
const DUE = Number(process.env.BENCH_DUE || 1);
const ONLY = process.env.BENCH_ONLY || '';
const GAP = Number(process.env.BENCH_CLAIM_GAP || 20);
const ROUNDS_X = Number(process.env.BENCH_ROUNDS_X || 6);
const CLAIMS_X = Number(process.env.BENCH_CLAIMS_X || 40);
const FLOOD_PARALLEL = Number(process.env.BENCH_FLOOD_PARALLEL || 16);
const HOSTS_CLAIMS = Number(process.env.BENCH_HOSTS_CLAIMS || 1000);
const HOSTS_PARALLEL = Number(process.env.BENCH_HOSTS_PARALLEL || 4);
const HOSTS_ROUNDS = Number(process.env.BENCH_HOSTS_ROUNDS || 5);
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString()) || 100;
// the backend's CPU time so far, in clock ticks (utime + stime)
const CPU = `(SELECT split_part(f, ' ', 12)::bigint + split_part(f, ' ', 13)::bigint
               FROM split_part(pg_read_file('/proc/self/stat'), ') ', 2) f)`;
const say = m => process.stderr.write(`bench-sessions: ${m}\n`);

function sql(st, q) {
    const r = st.psql(q);
    if (!r.ok) throw new Error(r.err);
    return r.out;
}

// one RESP value from buf at i: [value, next index], or null if incomplete
function parse(buf, i) {
    const nl = buf.indexOf('\r\n', i);
    if (nl < 0) return null;
    const t = buf[i], line = buf.slice(i + 1, nl);
    if (t === '+' || t === '-') return [line, nl + 2];
    if (t === ':') return [Number(line), nl + 2];
    if (t === '$') {
        const n = Number(line);
        if (n < 0) return [null, nl + 2];
        if (buf.length < nl + 4 + n) return null;
        return [buf.slice(nl + 2, nl + 2 + n), nl + 4 + n];
    }
    if (t === '*') {
        const a = [];
        let j = nl + 2;
        for (let k = 0; k < Number(line); k++) {
            const r = parse(buf, j);
            if (!r) return null;
            a.push(r[0]);
            j = r[1];
        }
        return [a, j];
    }
    throw new Error(`resp: unexpected ${JSON.stringify(buf.slice(i, i + 20))}`);
}

// a minimal RESP client; onPush gets the pub/sub messages (pmessage)
function resp(port, onPush) {
    const sock = connect(port, '127.0.0.1');
    const waits = [];
    let buf = '';
    sock.setNoDelay(true);
    sock.on('data', d => {
        buf += d.toString('latin1');
        for (let r; (r = parse(buf, 0));) {
            buf = buf.slice(r[1]);
            if (onPush && Array.isArray(r[0]) && r[0][0] === 'pmessage') onPush(r[0]);
            else waits.shift()(r[0]);
        }
    });
    return {
        ready: new Promise(ok => sock.on('connect', ok)),
        cmd: (...args) => new Promise(ok => {
            waits.push(ok);
            sock.write(`*${args.length}\r\n` + args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
        }),
        close: () => sock.end(),
    };
}

async function billing() {
    const st = new Stack({ workerConf: 'log_level notice' });
    await st.start();
    try {
        const times = [];
        for (let t = 0; t < TICKS; t++) {
            const base = 1000000 + t * N;
            say(`tick ${t + 1}: ${N} running sessions with ${DUE} minutes due`);
            sql(st, `
                INSERT INTO wallets (address)
                    SELECT '0x' || lpad(to_hex(g), 40, '0') FROM generate_series(${base}, ${base + N - 1}) g;
                SELECT count(*) FROM generate_series(${base}, ${base + N - 1}) g,
                    axon_credit_post('0x' || lpad(to_hex(g), 40, '0'), 'grant', 1000, 'bench', 'bench:' || g,
                                     'admin', NULL, 'credit.grant', '{}');
                INSERT INTO sessions (id, wallet, profile, gpu_count, price, state, started_at)
                    SELECT g, '0x' || lpad(to_hex(g), 40, '0'), 'small', 1, 1, 'running', now() - interval '${(DUE - 1) * 60 + 30} s'
                      FROM generate_series(${base}, ${base + N - 1}) g;
                ANALYZE;`);
            // wall time, and the backend's CPU time (user + system, from
            // /proc: the stack's role is a superuser), which the other
            // work of a shared machine moves much less
            const [ms, cpu] = sql(st, `
                CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS c, ${CPU} AS cpu;
                SELECT count(*) FROM axon_billing_tick(60000, 300000, 0, NULL, NULL, NULL);
                SELECT extract(epoch FROM clock_timestamp() - c) * 1000 || ' ' || (${CPU} - cpu) FROM t0;`)
                .split('\n').pop().split(' ').map(Number);
            const rows = sql(st, `SELECT count(*) FROM credit_ledger WHERE kind = 'usage' AND reference LIKE 'session:%' AND wallet IN (SELECT wallet FROM sessions WHERE id >= ${base} AND id < ${base + N})`);
            if (Number(rows) !== DUE * N) throw new Error(`tick billed ${rows} minutes, not ${DUE * N}`);
            // the same tick again: nothing more
            sql(st, 'SELECT count(*) FROM axon_billing_tick(60000, 300000, 0, NULL, NULL, NULL)');
            if (sql(st, `SELECT count(*) FROM credit_ledger WHERE kind = 'usage'`) !== String(DUE * N * (t + 1))) {
                throw new Error('a second tick billed again');
            }
            sql(st, `UPDATE sessions SET state = 'ended', ended_at = now() WHERE state = 'running'`);
            times.push(ms);
            console.log(`sessions bench=billing_tick round=${t + 1} sessions=${N} due=${DUE} ms=${ms.toFixed(1)} cpu_ms=${Math.round(cpu * 1000 / CLK_TCK)}`);
        }
        times.sort((a, b) => a - b);
        say(`billing tick over ${N} sessions: median ${times[times.length >> 1].toFixed(1)} ms (goal < 1000 ms)`);
    } finally {
        await st.stop();
    }
}

// A stack whose launches fail at once: the container CLI's `run` fails,
// its stop, rm and ps find nothing
// (hosts: its gpu_hosts)
async function claimStack(opts = {}, hosts = 'local=0,1,2,3,4,5,6,7') {
    const fake = join(mkdtempSync(join(tmpdir(), 'axon-bench-')), 'docker');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = run ] && exit 1\nexit 0\n', { mode: 0o755 });
    const docker = process.env.AXON_DOCKER;
    process.env.AXON_DOCKER = fake;
    const st = new Stack({
        sessions: true,
        workerConf: [`gpu_hosts ${hosts}`, 'log_level notice',
                     'reconcile_interval 1h'].join('\n'),
        ...opts,
    });
    try {
        await st.start();
    } finally {
        if (docker === undefined) delete process.env.AXON_DOCKER; else process.env.AXON_DOCKER = docker;
    }
    return st;
}

// n wallets signed in, each granted 100 minutes
async function claimUsers(st, n) {
    say(`claim -> scheduled: ${n} wallets signing in`);
    const users = [];
    for (let i = 0; i < n; i++) {
        const w = Wallet.createRandom();
        const { token } = await st.signIn(w);
        users.push({ token, addr: w.address.toLowerCase() });
    }
    st.redisPipe(users.map((u, i) => `XADD axon:jobs * kind credit.grant wallet ${u.addr} minutes 100 ref b-${i}`));
    await waitFor(() => users.every(u => st.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'balance') === '100'), 'grants', 60000);
    await waitFor(async () => (await st.fetch('/api/profiles')).status === 200, 'profiles');
    return users;
}

// Claims one after the other, one per user: the latency of each from POST
// /api/session (202) until Redis shows the session past `queued`.
// Redis tells of each change of a session's hash (keyspace
// notifications): the bench reads the state then, and does not poll,
// which would take a CPU from the worker on a small machine.
async function claimLatencies(st, users) {
    let key = null, changes = 0, wake = null;
    const r = resp(st.redisPort);
    const sub = resp(st.redisPort, m => {
        if (m[2] === `__keyspace@0__:${key}`) { changes++; if (wake) wake(); }
    });
    await r.ready;
    await sub.ready;
    await r.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'Kh');
    await sub.cmd('PSUBSCRIBE', '__keyspace@0__:axon:session:*');
    const state = async (id, done) => {
        for (;;) {
            const seen = changes;
            const v = await r.cmd('HGET', `axon:session:${id}`, 'state');
            if (done(v)) return v;
            if (changes === seen) {
                await new Promise((ok, fail) => {
                    const t = setTimeout(() => fail(new Error(`session ${id}: still ${v}`)), 10000);
                    wake = () => { clearTimeout(t); ok(); };
                });
                wake = null;
            }
        }
    };
    const lat = [];
    try {
        for (const u of users) {
            // the worker idle, as on an empty pool: the previous session's
            // end (the launch's) is behind it
            await new Promise(ok => setTimeout(ok, GAP));
            const t0 = process.hrtime.bigint();
            const res = await st.fetch('/api/session', {
                method: 'POST',
                headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
                body: '{"profile":"small"}',
            });
            const { session_id: id } = await res.json();
            if (res.status !== 202) throw new Error(`claim: ${res.status}`);
            key = `axon:session:${id}`;
            await state(id, v => v && v !== 'queued');
            lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
            // the (failing) launch is not measured: wait until it is over
            await state(id, v => v === 'ended');
        }
    } finally {
        sub.close();
        r.close();
    }
    return lat;
}

const quantile = (lat, q) => {
    const a = [...lat].sort((x, y) => x - y);
    return a[Math.min(a.length - 1, Math.floor(q * a.length))];
};

async function claims() {
    const st = await claimStack();
    try {
        const lat = await claimLatencies(st, await claimUsers(st, CLAIMS));
        const p = q => quantile(lat, q);
        console.log(`sessions bench=claim_scheduled claims=${CLAIMS} p50_ms=${p(0.5).toFixed(2)} p99_ms=${p(0.99).toFixed(2)} max_ms=${p(1).toFixed(2)}`);
        say(`claim -> scheduled: p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(2)} ms (goal p99 < 20 ms)`);
    } finally {
        await st.stop();
    }
}

// Another worker on st's queue, Redis and Postgres, driving hosts instead
// of st's worker's (the same fake CLI); stop() ends it
async function otherWorker(st, hosts) {
    const log = join(st.logs, 'worker-hosts.log');
    const path = join(st.dir, 'worker-hosts.conf');
    writeFileSync(path, readFileSync(join(st.dir, 'worker.conf'), 'utf8').split('\n')
        .filter(l => !/^(gpu_hosts|worker_id|log_file)\s/.test(l)).join('\n')
        + `\ngpu_hosts ${hosts}\nworker_id bench-w2\nlog_file "${log}"\n`);
    const w = spawn(join(BUILD, 'axon-worker'), ['-c', path], { stdio: 'ignore' });
    const exit = new Promise(ok => w.once('exit', ok));
    await waitFor(() => {
        const v = st.redis('--raw', 'GET', 'axon:profiles');
        return v && JSON.parse(v).pool.hosts.length === 2;
    }, 'both workers\' hosts in the pool', 30000);
    return {
        async stop() {
            if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
            await exit;
        },
    };
}

// The state of sessions as Redis tells of each change of their hash
// (keyspace notifications): wait(id, done) reads it at each change until
// done(state), for claims made at once
async function sessionWatch(st) {
    const seen = new Map(), wakes = new Map();
    const r = resp(st.redisPort);
    const sub = resp(st.redisPort, m => {
        const id = m[2].slice('__keyspace@0__:axon:session:'.length);
        seen.set(id, (seen.get(id) || 0) + 1);
        wakes.get(id)?.();
    });
    await r.ready;
    await sub.ready;
    await r.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'Kh');
    await sub.cmd('PSUBSCRIBE', '__keyspace@0__:axon:session:*');
    return {
        async wait(id, done) {
            id = String(id);
            for (;;) {
                const n = seen.get(id) || 0;
                const v = await r.cmd('HGET', `axon:session:${id}`, 'state');
                if (done(v)) return v;
                if ((seen.get(id) || 0) === n) {
                    await new Promise((ok, fail) => {
                        const t = setTimeout(() => fail(new Error(`session ${id}: still ${v}`)), 10000);
                        wakes.set(id, () => { clearTimeout(t); ok(); });
                    });
                    wakes.delete(id);
                }
            }
        },
        close() { sub.close(); r.close(); },
    };
}

// n claims from users at once, each claiming again once its last session
// ended: the latency of each from POST /api/session (202) until Redis
// shows it past `queued`
async function claimsAtOnce(st, watch, users, n) {
    const lat = [];
    let left = n;
    await Promise.all(users.map(async u => {
        while (left > 0) {
            left--;
            const t0 = process.hrtime.bigint();
            const res = await st.fetch('/api/session', {
                method: 'POST',
                headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
                body: '{"profile":"small"}',
            });
            const { session_id: id } = await res.json();
            if (res.status !== 202) throw new Error(`claim: ${res.status}`);
            await watch.wait(id, v => v && v !== 'queued');
            lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
            await watch.wait(id, v => v === 'ended');
        }
    }));
    return lat;
}

// No GPU in two live sessions at once, over st's run: the exclusive index
// is in force, and each GPU's assignments, in the order they were made,
// each released before the next was made (a later one's id is only taken
// once the earlier is released: an unreleased one blocks it in the index),
// all released now.  Returns the count of those that were not.
function doubleAssignments(st) {
    const index = sql(st, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                            WHERE c.relname = 'gpu_assignments_exclusive' AND i.indisunique AND i.indisvalid
                              AND i.indpred IS NOT NULL`);
    if (index !== '1') throw new Error('the index gpu_assignments_exclusive is not in force');
    return Number(sql(st, `SELECT count(*) FROM (
        SELECT released_at, lead(assigned_at) OVER w AS next_at, lead(id) OVER w AS next
          FROM gpu_assignments WINDOW w AS (PARTITION BY host, gpu_index ORDER BY id)) x
         WHERE released_at IS NULL
            OR (next IS NOT NULL AND next_at < released_at)`));
}

// Claim -> scheduled on two hosts of two workers against one host of one
// worker, alternating rounds on two stacks
async function hosts() {
    let one, two, w2, watches = [];
    try {
        one = await claimStack();
        two = await claimStack({}, 'a=0,1,2,3');
        w2 = await otherWorker(two, 'b=0,1,2,3');
        const sides = [];
        for (const st of [one, two]) {
            const users = await claimUsers(st, HOSTS_PARALLEL);
            // enough credit for every claim of the run (a failed launch
            // bills nothing, but a claim must hold the grace's reserve)
            st.redisPipe(users.map((u, i) => `XADD axon:jobs * kind credit.grant wallet ${u.addr} minutes 100000 ref bh-${i}`));
            await waitFor(() => users.every(u => st.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'balance') === '100100'), 'grants', 60000);
            const watch = await sessionWatch(st);
            watches.push(watch);
            sides.push({ st, users, watch, lat: [] });
        }
        const per = Math.ceil(HOSTS_CLAIMS / HOSTS_ROUNDS);
        for (let round = 0; round < HOSTS_ROUNDS; round++) {
            for (const s of sides) {
                const n = Math.min(per, HOSTS_CLAIMS - round * per);
                say(`hosts: round ${round + 1}: ${n} claims on ${s === sides[0] ? 'one host' : 'two hosts'}`);
                s.lat.push(...await claimsAtOnce(s.st, s.watch, s.users, n));
            }
        }
        const [a, b] = sides.map(s => s.lat);
        const spread = sql(two, `SELECT string_agg(host || ':' || n, ',' ORDER BY host) FROM
                                 (SELECT host, count(*) AS n FROM sessions WHERE host IS NOT NULL GROUP BY host) x`);
        const doubles = doubleAssignments(one) + doubleAssignments(two);
        const q1 = quantile(a, 0.99), q2 = quantile(b, 0.99);
        console.log(`sessions bench=claim_scheduled_hosts claims=${a.length}+${b.length} parallel=${HOSTS_PARALLEL} one_p50_ms=${quantile(a, 0.5).toFixed(2)} one_p99_ms=${q1.toFixed(2)} two_p50_ms=${quantile(b, 0.5).toFixed(2)} two_p99_ms=${q2.toFixed(2)} ratio=${(q2 / q1).toFixed(2)} hosts=${spread} double=${doubles}`);
        say(`claim -> scheduled p99: two hosts, two workers ${q2.toFixed(2)} ms against one ${q1.toFixed(2)} ms: ${(q2 / q1).toFixed(2)}x (goal <= 1.2x; ${spread}; ${doubles} double assignments)`);
        if (doubles) throw new Error(`${doubles} GPU assignments overlap`);
    } finally {
        for (const w of watches) w.close();
        await w2?.stop();
        await one?.stop();
        await two?.stop();
    }
}

// Claim -> scheduled, quiet and during a flood of unfunded x402 payments,
// alternating rounds on one stack.
async function flood() {
    let floodPort;
    const st = await claimStack({
        chain: true,
        // the flood's server: no limit_req, paid requests answered after 1 s
        nginx: async () => {
            floodPort = await freePort();
            return `server { listen 127.0.0.1:${floodPort}; axon_x402_wait 1s; location /api/ { axon_api; } }\n`;
        },
    });
    try {
        const users = await claimUsers(st, ROUNDS_X * CLAIMS_X);
        const url = `http://127.0.0.1:${floodPort}/api/x402/session`;
        const body = JSON.stringify({ profile: 'small', minutes: 30,
            ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bench' });
        const post = headers => fetch(url, { method: 'POST', body,
            headers: { 'content-type': 'application/json', ...headers } });
        const res = await post({});
        if (res.status !== 402) throw new Error(`x402 offer: ${res.status}`);
        const pr = decodePaymentRequiredHeader(res.headers.get('PAYMENT-REQUIRED'));

        // the payments, signed beforehand: each by a fresh key, no USDC
        const N = Number(process.env.BENCH_FLOOD_PAYMENTS || 3000);
        say(`flood: signing ${N} payments from fresh keys`);
        const payments = [];
        for (let i = 0; i < N; i++) {
            const c = new x402Client();
            registerExactEvmScheme(c, { signer: privateKeyToAccount(generatePrivateKey()) });
            c.setSpendControls({ allowedAssets: [{ network: 'eip155:1337', asset: st.chain.tokens.USDC.address,
                maxAmountPerPayment: '100000000' }] });
            payments.push(encodePaymentSignatureHeader(await c.createPaymentPayload(pr)));
        }

        const quiet = [], flooded = [], answers = {};
        let next = 0;
        for (let round = 0; round < ROUNDS_X; round++) {
            const mine = users.slice(round * CLAIMS_X, (round + 1) * CLAIMS_X);
            if (round % 2 === 0) {
                quiet.push(...await claimLatencies(st, mine));
                continue;
            }
            let on = true;
            const senders = Array.from({ length: FLOOD_PARALLEL }, async () => {
                while (on && next < payments.length) {
                    const r = await post({ 'PAYMENT-SIGNATURE': payments[next++] });
                    await r.arrayBuffer();
                    answers[r.status] = (answers[r.status] || 0) + 1;
                }
            });
            try {
                flooded.push(...await claimLatencies(st, mine));
            } finally {
                on = false;
                await Promise.all(senders);
            }
            if (next >= payments.length) say('flood: every payment was sent before the round ended');
        }
        const q = quantile(quiet, 0.99), f = quantile(flooded, 0.99);
        const sent = Object.entries(answers).map(([k, v]) => `${k}:${v}`).join(',');
        console.log(`sessions bench=claim_scheduled_flood claims=${quiet.length}+${flooded.length} quiet_p50_ms=${quantile(quiet, 0.5).toFixed(2)} quiet_p99_ms=${q.toFixed(2)} flood_p50_ms=${quantile(flooded, 0.5).toFixed(2)} flood_p99_ms=${f.toFixed(2)} ratio=${(f / q).toFixed(2)} payments=${next} answers=${sent}`);
        say(`claim -> scheduled p99: quiet ${q.toFixed(2)} ms, during the flood ${f.toFixed(2)} ms: ${(f / q).toFixed(2)}x (goal <= 1.5x; ${next} payments, answers ${sent})`);
    } finally {
        await st.stop();
    }
}

if (!ONLY || ONLY === 'billing') await billing();
if (!ONLY || ONLY === 'claims') await claims();
if (!ONLY || ONLY === 'flood') await flood();
if (!ONLY || ONLY === 'hosts') await hosts();

