// GPU sessions and crashes: the worker killed with SIGKILL mid-launch and
// mid-billing, then restarted: no GPU assigned twice, no minute billed
// twice or skipped, no container leaked.  Then two workers on one pool.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor, ROOT } from './lib/stack.mjs';

const MINUTE = 2000;
const conf = [
    'gpu_hosts local=0,1',
    'profiles "small:1:1 medium:2:1"',
    'billing_minute 2s',
    'session_grace 4s',                 // a claim holds it: 2 minutes, not 5m / 2s
    'billing_tick 200ms',
    'session_idle_timeout 0',
    'reconcile_interval 1s',
    'launcher_timeout 20s',
    'launcher_ready_timeout 20s',
    'job_claim_idle 2s',
    'job_retry_min 100ms',
    'job_retry_max 1s',
];

// a stable worker_id: a restarted worker takes back its own leases at once
const s = new Stack({ sessions: true, workerConf: [...conf, 'worker_id w1', 'queue_consumer w1'].join('\n') });
let prefix;
before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
});
after(() => s.stop());

const penv = { ...process.env, CONTAINERS_CONF: `${ROOT}/conf/podman/containers.conf` };
const containers = pre => spawnSync('podman', ['ps', '-a', '--format', '{{.Names}}', '--filter', `name=^${pre}`], { env: penv })
    .stdout.toString().split('\n').filter(Boolean);

let refs = 0;
async function user(st, minutes) {
    const w = Wallet.createRandom();
    const { token } = await st.signIn(w);
    const addr = w.address.toLowerCase();
    st.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
             'minutes', String(minutes), 'ref', `c-${process.pid}-${++refs}`);
    await waitFor(() => st.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'grant');
    return { token, addr, minutes };
}

async function claim(st, u, profile = 'small') {
    const r = await st.api('/api/session', u.token, 'POST', { profile });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    u.id = r.body.session_id;
}

const state = (st, u) => st.psql(`SELECT state FROM sessions WHERE id = ${u.id}`).out;
const until = (st, u, want, ms = 40000) => waitFor(() => state(st, u) === want, `session ${u.id} ${want}`, ms);

async function kill9(st) {
    const pid = st.pid('worker');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the kill');
    await st.stack('start', 'worker');
}

// every session's ledger: one row per minute begun, keys 0..n-1, n = billed
function ledgerExact(st, u) {
    const [started, stopped, billed, gpus] = st.sql(`SELECT extract(epoch FROM started_at) * 1000, extract(epoch FROM stop_at) * 1000, billed_minutes, gpu_count FROM sessions WHERE id = ${u.id}`).split('|').map(Number);
    const minutes = Math.floor((stopped - started) / MINUTE) + 1;
    assert.equal(billed, minutes, `session ${u.id}: billed ${billed}, begun ${minutes}`);
    assert.equal(st.sql(`SELECT string_agg(idempotency_key, ' ' ORDER BY id) FROM credit_ledger WHERE reference = 'session:${u.id}'`),
                 Array.from({ length: minutes }, (_, k) => `usage:${u.id}:${k}`).join(' '));
    assert.equal(st.sql(`SELECT balance FROM wallet_balances WHERE wallet = '${u.addr}'`), String(u.minutes - minutes * gpus));
}

const noDoubleGpu = st => assert.equal(
    st.sql('SELECT count(*) FROM (SELECT host, gpu_index FROM gpu_assignments WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) t'), '0');

test('kill -9 mid-launch: after the restart the session runs once, on its GPUs, in one container', async () => {
    const u = await user(s, 100);
    await claim(s, u);
    await waitFor(() => state(s, u) === 'starting', 'starting', 20000);
    await kill9(s);
    await until(s, u, 'running');
    assert.deepEqual(containers(prefix), [`${prefix}${u.id}`]);
    assert.equal(s.sql(`SELECT count(*) FROM gpu_assignments WHERE session_id = ${u.id} AND released_at IS NULL`), '1');
    noDoubleGpu(s);
    assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
    await until(s, u, 'ended');
    ledgerExact(s, u);
    await waitFor(() => containers(prefix).length === 0, 'no container left');
});

test('kill -9 mid-billing, again and again: no minute billed twice or skipped', async () => {
    const a = await user(s, 100);
    const b = await user(s, 100);
    await claim(s, a);
    await claim(s, b);
    await until(s, a, 'running');
    await until(s, b, 'running');
    for (let i = 0; i < 5; i++) {
        await new Promise(r => setTimeout(r, 300 + Math.random() * 900));
        await kill9(s);
    }
    await new Promise(r => setTimeout(r, 1000));
    for (const u of [a, b]) assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
    await until(s, a, 'ended');
    await until(s, b, 'ended');
    for (const u of [a, b]) ledgerExact(s, u);
    noDoubleGpu(s);
    assert.equal(s.sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'), '0');
    await waitFor(() => containers(prefix).length === 0, 'no container left');
});

// time passing while the worker is down: minutes begin that must not be billed
const minutesPass = (n) => { const t = Date.now() + n * MINUTE; return waitFor(() => Date.now() > t, `${n} minutes`, n * MINUTE + 5000); };
const msOf = (st, u, col) => Number(st.sql(`SELECT round(extract(epoch FROM ${col}) * 1000) FROM sessions WHERE id = ${u.id}`));

test('a release while the worker is down: billing stops when the user asked, not when the worker is back', async () => {
    const u = await user(s, 100);
    await claim(s, u);
    await until(s, u, 'running');
    await s.stack('stop', 'worker');
    const asked = Date.now();
    const r = await s.api('/api/release', u.token, 'POST');
    const answered = Date.now();
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await minutesPass(3);
    await s.stack('start', 'worker');
    await until(s, u, 'ended');
    // the job's time (Redis queued it between the two)
    const stop = msOf(s, u, 'stop_at');
    assert.ok(stop >= asked - 1000 && stop <= answered + 1000, `stop_at ${stop - asked} ms after the release was asked`);
    assert.equal(s.sql(`SELECT end_reason FROM sessions WHERE id = ${u.id}`), 'released');
    ledgerExact(s, u);
});

test('a container gone while the worker is down: billed to the last list that showed it running', async () => {
    const u = await user(s, 100);
    await claim(s, u);
    await until(s, u, 'running');
    const started = msOf(s, u, 'started_at');
    const confirmed = () => Number(s.sql("SELECT round(extract(epoch FROM confirmed_at) * 1000) FROM hosts WHERE name = 'local'"));
    await waitFor(() => confirmed() > started, 'a sweep that lists it running');
    await s.stack('stop', 'worker');
    const last = confirmed();
    assert.ok(spawnSync('podman', ['rm', '-f', '-t', '0', `${prefix}${u.id}`], { env: penv }).status === 0);
    await minutesPass(3);
    await s.stack('start', 'worker');
    await until(s, u, 'ended');
    assert.equal(s.sql(`SELECT end_reason FROM sessions WHERE id = ${u.id}`), 'container_vanished');
    assert.equal(msOf(s, u, 'stop_at'), last);
    ledgerExact(s, u);
    noDoubleGpu(s);
});

test('a reload that drops a GPU host where a session lives is refused; once it ended, taken', async () => {
    const file = `${s.dir}/worker.conf`;
    const kept = readFileSync(file, 'utf8');
    const reload = async (text, want) => {
        const reloads = (s.log('worker.log').match(/reload: /g) ?? []).length;
        writeFileSync(file, text);
        process.kill(s.pid('worker'), 'SIGHUP');
        await waitFor(() => (s.log('worker.log').match(/reload: /g) ?? []).length > reloads, 'the reload');
        await waitFor(async () => (await s.api('/api/profiles')).body.pool?.gpus === want, `a pool of ${want}`);
    };
    const users = [];
    try {
        // host b (the same engine, a GPU and ports of its own): 3 GPUs
        await reload(kept.replace(/^gpu_hosts .*$/m, `gpu_hosts "local=0,1 b=2"\ngpu_host_ports "b=${s.portPoolStart + 8}:8"`), 3);
        for (let i = 0; i < 3; i++) {
            const u = await user(s, 100);
            await claim(s, u);
            await until(s, u, 'running');
            users.push(u);
        }
        const onB = users.find(u => s.sql(`SELECT host FROM sessions WHERE id = ${u.id}`) === 'b');
        assert.ok(onB, 'a session on host b');
        // b dropped while its session runs: refused, the configuration kept
        const text = kept.replace(/^gpu_hosts .*$/m, 'gpu_hosts "local=0,1"');
        writeFileSync(file, text);
        process.kill(s.pid('worker'), 'SIGHUP');
        await waitFor(() => s.log('worker.log').includes(`reload: gpu_hosts drops a host where sessions still live (b: session ${onB.id})`),
                      'the reload refused');
        assert.equal((await s.api('/api/profiles')).body.pool.gpus, 3);
        // released, it ends on b as ever; then b goes
        assert.equal((await s.api('/api/release', onB.token, 'POST')).status, 202);
        await until(s, onB, 'ended');
        ledgerExact(s, onB);
        await reload(text, 2);
    } finally {
        for (const u of users) await s.api('/api/release', u.token, 'POST');
        for (const u of users) await until(s, u, 'ended');
        await reload(kept, 2);
    }
});

test('two workers, one pool of 2 GPUs, 5 claims: never a GPU twice, every session served', async () => {
    const t = new Stack({ sessions: true, workerConf: conf.join('\n') });
    await t.start();
    const pre = `axgt-${basename(t.dir)}-`;
    try {
        await t.stack('start', 'worker', '2');
        const users = [];
        for (let i = 0; i < 5; i++) users.push(await user(t, 100));
        for (const u of users) await claim(t, u);
        const done = new Set();
        await waitFor(async () => {
            noDoubleGpu(t);
            for (const u of users) {
                if (!done.has(u) && state(t, u) === 'running') {
                    done.add(u);
                    assert.equal((await t.api('/api/release', u.token, 'POST')).status, 202);
                }
            }
            return users.every(u => state(t, u) === 'ended');
        }, 'every session served', 90000);
        for (const u of users) ledgerExact(t, u);
        assert.equal(t.sql("SELECT count(DISTINCT end_reason) || end_reason FROM sessions GROUP BY end_reason"), '1released');
        await waitFor(() => containers(pre).length === 0, 'no container left');
    } finally {
        await t.stop();
    }
});
