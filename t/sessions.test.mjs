// GPU sessions end to end, the worker's side: real nginx, worker,
// Postgres, Redis and podman with the test image.  A pool of 4 GPUs
// (local=0,1,2,3), minutes of 2 s, a billing tick of 200 ms.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, freePort, waitFor, ROOT } from './lib/stack.mjs';

const MINUTE = 2000;

const s = new Stack({
    sessions: true,
    workerConf: [
        'gpu_hosts local=0,1,2,3',
        'profiles "small:1:1 medium:2:1 large:4:2 huge:8:1"',
        'billing_minute 2s',
        'billing_tick 200ms',
        'session_idle_timeout 6s',
        'session_grace 3s',
        // the fair queue's backfill must come before the reservation:
        // long enough for a loaded machine's steps between the two
        'queue_reserve_after 10s',
        'reconcile_interval 1s',
        'launcher_timeout 20s',
        'launcher_ready_timeout 20s',
        'ssh_sessions off',             // desktops only here: t/ssh.test.mjs has SSH
    ].join('\n'),
    nginx: async st => {
        st.gatePort = await freePort();
        return `
server {
    listen 127.0.0.1:${st.gatePort};
    location /desktop/ {
        axon_gate session;
        proxy_pass http://$axon_upstream/;   # the test image serves /
    }
}
`;
    },
});

let prefix;
before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
});
after(() => s.stop());

const penv = { ...process.env, CONTAINERS_CONF: `${ROOT}/conf/podman/containers.conf` };
function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}
const containers = () => podman('ps', '-a', '--format', '{{.Names}}', '--filter', `name=^${prefix}`)
    .out.split('\n').filter(Boolean);

const auth = token => ({ authorization: `Bearer ${token}` });
let refs = 0;
async function user(minutes) {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    if (minutes) {
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
                'minutes', String(minutes), 'ref', `t-${process.pid}-${++refs}`);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'the grant');
    }
    return { w, token, addr };
}

async function claim(u, profile = 'small') {
    const r = await s.api('/api/session', u.token, 'POST', { profile });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    u.id = r.body.session_id;
    return u.id;
}

const status = async u => (await s.api('/api/session', u.token)).body;
const until = (u, want, ms = 90000) => waitFor(async () => {
    const st = await status(u);
    return st.status === want ? st : null;
}, `session of ${u.addr} ${want}`, ms);

function gate(path, token) {
    return new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: s.gatePort, path, agent: false,
                              headers: token ? auth(token) : {} }, res => {
            let text = '';
            res.on('data', d => { text += d; });
            res.on('end', () => ok({ status: res.statusCode, body: text }));
        });
        req.on('error', fail);
        req.end();
    });
}

const liveGpus = () => Number(s.sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'));

// heartbeats every second while a test runs, for the idle check
function beating(...users) {
    const t = setInterval(() => {
        for (const u of users) s.api('/api/session/heartbeat', u.token, 'POST').catch(() => {});
    }, 1000);
    return () => clearInterval(t);
}

test('profiles: the worker publishes them with the pool', async () => {
    const r = await waitFor(async () => {
        const p = await s.api('/api/profiles');
        return p.status === 200 ? p : null;
    }, 'profiles');
    const small = r.body.profiles.find(p => p.name === 'small');
    assert.equal(small.gpus, 1);
    assert.equal(small.price, 1);
    assert.equal(r.body.profiles.find(p => p.name === 'large').price, 2);
    assert.equal(r.body.pool.gpus, 4);
    assert.equal(r.body.pool.hosts[0].name, 'local');
});

test('life cycle: claim -> running -> the gate reaches its container -> release; GPUs free, ledger exact', async () => {
    const a = await user(100);
    const b = await user(100);
    const stop = beating(a, b);
    try {
        await claim(a);
        await claim(b, 'medium');
        const ra = await until(a, 'running');
        const rb = await until(b, 'running');
        // a desktop's VNC password, made at launch, shown to its owner only
        assert.deepEqual(Object.keys(ra.connect).sort(), ['password', 'path']);
        assert.equal(ra.connect.path, '/desktop/');
        assert.match(ra.connect.password, /^[A-Za-z0-9]{8}$/);
        assert.match(rb.connect.password, /^[A-Za-z0-9]{8}$/);
        assert.notEqual(ra.connect.password, rb.connect.password);
        assert.equal(s.sql(`SELECT vnc_password FROM sessions WHERE id = ${a.id}`), ra.connect.password);
        const podEnv = podman('inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', `${prefix}${a.id}`).out;
        assert.ok(podEnv.split('\n').includes(`AXON_VNC_PASSWORD=${ra.connect.password}`), 'the container has it');
        assert.ok(ra.started_at);
        assert.equal(rb.gpus, 2);

        // each wallet reaches its own container, never the other's
        const ga = await gate('/desktop/', a.token);
        assert.equal(ga.status, 200, ga.body);
        assert.match(ga.body, new RegExp(`session=${a.id}\\nwallet=${a.addr}\\ngpus=\\d\\n`));
        const gb = await gate('/desktop/', b.token);
        assert.match(gb.body, new RegExp(`session=${b.id}\\nwallet=${b.addr}\\ngpus=\\d,\\d\\n`));
        assert.equal(liveGpus(), 3);
        const gpusA = s.sql(`SELECT string_agg(gpu_index::text, ',') FROM gpu_assignments WHERE session_id = ${a.id}`);
        const gpusB = s.sql(`SELECT string_agg(gpu_index::text, ',' ORDER BY gpu_index) FROM gpu_assignments WHERE session_id = ${b.id}`);
        assert.match(ga.body, new RegExp(`gpus=${gpusA}\\n`));
        assert.match(gb.body, new RegExp(`gpus=${gpusB}\\n`));

        await new Promise(r => setTimeout(r, 2.5 * MINUTE));

        // release: someone else's session is out of reach (the job checks too)
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'session.release', 'session_id', String(a.id), 'wallet', b.addr);
        await waitFor(() => /is not a session of/.test(s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+')), 'refused');
        assert.equal((await status(a)).status, 'running');

        assert.equal((await s.api('/api/release', a.token, 'POST')).status, 202);
        const ended = await until(a, 'ended');
        assert.equal(ended.end_reason, 'released');
        assert.equal((await gate('/desktop/', a.token)).status, 404);
        assert.equal(ended.connect, undefined, 'the password is gone with the session');
        assert.equal(s.redis('--raw', 'HEXISTS', `axon:session:${a.id}`, 'connect_password'), '0');
        assert.equal(s.sql(`SELECT vnc_password IS NULL FROM sessions WHERE id = ${a.id}`), 't');

        // the ledger: one row per minute begun, each gpus x price, once
        const [started, stopped, billed] = s.sql(`SELECT extract(epoch FROM started_at) * 1000, extract(epoch FROM stop_at) * 1000, billed_minutes FROM sessions WHERE id = ${a.id}`).split('|').map(Number);
        const minutes = Math.floor((stopped - started) / MINUTE) + 1;
        assert.equal(billed, minutes);
        assert.ok(minutes >= 2, `minutes ${minutes}`);
        assert.equal(ended.billed_minutes, minutes);
        assert.equal(s.sql(`SELECT count(*) || ':' || sum(delta_minutes) FROM credit_ledger WHERE reference = 'session:${a.id}'`), `${minutes}:${-minutes}`);
        assert.equal(s.sql(`SELECT string_agg(idempotency_key, ' ' ORDER BY id) FROM credit_ledger WHERE reference = 'session:${a.id}'`),
                     Array.from({ length: minutes }, (_, k) => `usage:${a.id}:${k}`).join(' '));
        await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${a.addr}`, 'balance') === String(100 - minutes), 'balance in redis');
        assert.equal(s.sql(`SELECT balance FROM wallet_balances WHERE wallet = '${a.addr}'`), String(100 - minutes));

        // GPUs free, the container gone
        await waitFor(() => liveGpus() === 2, 'GPUs of a freed');
        await waitFor(() => !containers().includes(`${prefix}${a.id}`), 'container removed');

        assert.equal((await s.api('/api/release', b.token, 'POST')).status, 202);
        const eb = await until(b, 'ended');
        assert.equal(s.sql(`SELECT sum(delta_minutes) FROM credit_ledger WHERE reference = 'session:${b.id}'`), String(-2 * eb.billed_minutes), '2 GPUs x price 1');
        await waitFor(() => liveGpus() === 0, 'every GPU free');
    } finally {
        stop();
    }
});

test('bad claims end at once with the reason: unknown profile, no credits, too large for any host, SSH turned off', async () => {
    const u = await user(100);
    // the module knows only what the worker published; a job by hand
    for (const [profile, reason, mode = 'desktop'] of [['nope', 'unknown_profile'], ['huge', 'no_host_fits'],
                                                       ['small', 'ssh_disabled', 'ssh']]) {
        const id = Number(s.redis('--raw', 'INCR', 'axon:session:next'));
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'session.claim', 'session_id', String(id), 'wallet', u.addr,
                'profile', profile, 'mode', mode);
        await waitFor(() => s.redis('--raw', 'HGET', `axon:session:${id}`, 'end_reason') === reason, reason);
        assert.equal(s.redis('--raw', 'HGET', `axon:session:${id}`, 'state'), 'ended');
    }
    const poor = await user(0);
    assert.equal((await s.api('/api/session', poor.token, 'POST', { profile: 'small' })).status, 402);
    // ssh_sessions off: published, and the module refuses an SSH claim
    assert.equal((await s.api('/api/profiles')).body.ssh, false);
    const r = await s.api('/api/session', u.token, 'POST', { profile: 'small', mode: 'ssh',
        ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM t' });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'ssh_disabled');
});

test('usage: a wallet\'s sessions newest first, with the minutes billed as the ledger has them; nobody else\'s', async () => {
    const u = await user(100);
    const other = await user(100);
    const stop = beating(u);
    const ids = [];
    try {
        for (const profile of ['small', 'medium']) {
            ids.push(await claim(u, profile));
            await until(u, 'running');
            assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
            await until(u, 'ended');
        }
    } finally {
        stop();
    }
    const r = await waitFor(async () => {
        const x = await s.api('/api/usage', u.token);
        return x.body.sessions?.length === 2 ? x : null;
    }, 'both sessions in the usage list');
    assert.equal(r.status, 200);
    assert.equal(r.body.wallet.toLowerCase(), u.addr);
    assert.deepEqual(r.body.sessions.map(x => x.session_id), ids.reverse(), 'newest first');
    for (const x of r.body.sessions) {
        const [profile, gpus, billed, reason] = s.sql(`SELECT profile, gpu_count, billed_minutes, end_reason
            FROM sessions WHERE id = ${x.session_id}`).split('|');
        assert.equal(x.profile, profile);
        assert.equal(x.gpus, Number(gpus));
        assert.equal(x.status, 'ended');
        assert.equal(x.end_reason, reason);
        assert.equal(x.billed_minutes, Number(billed));
        assert.ok(x.billed_minutes >= 1);
        // what the ledger took: a row per minute, gpus x price 1 each
        assert.equal(s.sql(`SELECT -sum(delta_minutes) FROM credit_ledger WHERE reference = 'session:${x.session_id}'`),
                     String(x.billed_minutes * x.gpus));
        assert.ok(x.created_at && x.started_at && x.ended_at);
        assert.equal(x.connect, undefined, 'never a password or an upstream');
        assert.equal(x.upstream, undefined);
    }
    assert.deepEqual((await s.api('/api/usage', other.token)).body.sessions, []);
    assert.equal((await s.api('/api/usage?limit=1', u.token)).body.sessions.length, 1);
    assert.equal((await s.api('/api/usage?limit=0', u.token)).status, 400);
    assert.equal((await s.api('/api/usage')).status, 401);
});

test('the fair queue: positions, leaving, backfill, then a reservation lets a large one run', async () => {
    const smalls = [await user(100), await user(100), await user(100)];
    const large = await user(100);
    // signed in and granted now: between large's claim and theirs, only
    // what the test checks (backfill happens before queue_reserve_after)
    const [w, leaver, late] = [await user(100), await user(100), await user(100)];
    const stop = beating(...smalls, large, w, leaver, late);
    const more = [];
    try {
        for (const u of smalls) await claim(u);
        for (const u of smalls) await until(u, 'running');

        // 1 GPU free: the large one waits, a small one behind it backfills
        await claim(large, 'large');
        const q = await until(large, 'queued');
        assert.match((await status(large)).reason || 'waiting for the scheduler', /waiting/);
        await waitFor(async () => (await status(large)).position === 1, 'position 1');
        assert.match((await status(large)).reason, /waiting for 4 GPUs on one host \(1 free\)/);
        assert.ok(q);

        await claim(w);
        await claim(leaver);
        // w backfills the free GPU; leaver waits behind large
        await until(w, 'running');
        smalls.push(w);
        await waitFor(async () => (await status(leaver)).position === 2, 'leaver at 2');
        assert.equal(s.redis('--raw', 'HGET', `axon:session:${leaver.id}`, 'position'), '2');

        assert.equal((await s.api('/api/session/queue', leaver.token, 'DELETE')).status, 202);
        const left = await until(leaver, 'ended');
        assert.equal(left.end_reason, 'left_queue');
        assert.equal(left.billed_minutes, 0);

        // large has waited past queue_reserve_after: GPUs are reserved
        await waitFor(async () => /reserved for this session/.test((await status(large)).reason), 'reservation');

        // a small one freed: a new small claim does not take it
        assert.equal((await s.api('/api/release', smalls[0].token, 'POST')).status, 202);
        await until(smalls[0], 'ended');
        more.push(late);
        await claim(late);
        await waitFor(async () => /behind session/.test((await status(late)).reason || ''), 'late waits behind');
        assert.equal((await status(late)).position, 2);

        for (const u of smalls.slice(1)) assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
        await until(large, 'running');
        assert.equal(s.sql(`SELECT count(*) FROM gpu_assignments WHERE session_id = ${large.id} AND released_at IS NULL`), '4');
        assert.equal((await status(late)).status, 'queued');
        assert.equal((await s.api('/api/release', large.token, 'POST')).status, 202);
        await until(late, 'running');
        assert.equal((await s.api('/api/release', late.token, 'POST')).status, 202);
        await until(late, 'ended');
        await waitFor(() => liveGpus() === 0, 'every GPU free');
    } finally {
        stop();
    }
});

test('zero balance: grace, shown in GET /api/session, then stopped; never below zero', async () => {
    const u = await user(3);
    const stop = beating(u);
    try {
        await claim(u);
        await until(u, 'running');
        const g = await waitFor(async () => {
            const st = await status(u);
            return st.grace_until ? st : null;
        }, 'grace_until', 20000);
        assert.equal(g.status, 'running');
        const ended = await until(u, 'ended', 20000);
        assert.equal(ended.end_reason, 'out_of_credits');
        assert.equal(ended.billed_minutes, 3);
        assert.equal(s.sql(`SELECT balance FROM wallet_balances WHERE wallet = '${u.addr}'`), '0');
    } finally {
        stop();
    }
});

test('idle: no heartbeat for session_idle_timeout -> stopped', async () => {
    const u = await user(100);
    await claim(u);
    await until(u, 'running');
    const ended = await until(u, 'ended', 30000);
    assert.equal(ended.end_reason, 'idle');
    await waitFor(() => !containers().includes(`${prefix}${u.id}`), 'container removed');
});

test('reconcile: a container killed by hand ends its session; one started by hand is removed', async () => {
    const u = await user(100);
    const stop = beating(u);
    try {
        await claim(u);
        await until(u, 'running');
        assert.ok(podman('rm', '-f', `${prefix}${u.id}`).ok);
        const ended = await until(u, 'ended');
        assert.equal(ended.end_reason, 'container_vanished');
        await waitFor(() => liveGpus() === 0, 'GPUs freed');
        assert.match(s.log('worker.log'), new RegExp(`session ${u.id} is running but its container is gone`));
    } finally {
        stop();
    }

    const image = podman('images', '--format', '{{.Repository}}:{{.Tag}}', 'axon-session-test').out.split('\n')[0];
    const name = `${prefix}777777`;
    const r = podman('run', '-d', '--name', name, '--label', 'axon.session=777777', '--label', `axon.wallet=0x${'1'.repeat(40)}`,
                     '--label', 'axon.mode=desktop', '--label', `axon.stack=${s.dir}`, '--pull', 'never', image);
    assert.ok(r.ok, r.err);
    await waitFor(() => !containers().includes(name), 'stray container removed');
    assert.match(s.log('worker.log'), /container axgt-.*777777 .* has no live session/);
});

test('admin: gpu.drain keeps new sessions off a host, gpu.undrain lets them in; session.end ends any session', async () => {
    const u = await user(100);
    const stop = beating(u);
    try {
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.drain', 'host', 'local', 'reason', 'driver update');
        await waitFor(() => s.sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'local'") === '1', 'drained');
        await waitFor(async () => (await s.api('/api/profiles')).body.pool.hosts[0].draining === true, 'profiles show it');
        await claim(u);
        await waitFor(async () => (await status(u)).position === 1, 'queued at 1');
        await new Promise(r => setTimeout(r, 500));
        assert.equal((await status(u)).status, 'queued');
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.undrain', 'host', 'local');
        await until(u, 'running');

        s.redis('XADD', 'axon:jobs', '*', 'kind', 'session.end', 'session_id', String(u.id), 'reason', 'abuse, ticket 9');
        const ended = await until(u, 'ended');
        assert.equal(ended.end_reason, 'admin: abuse, ticket 9');
        await waitFor(() => liveGpus() === 0, 'GPUs freed');
        assert.equal(s.sql(`SELECT count(*) FROM audit_log WHERE action IN ('gpu.drain', 'gpu.undrain', 'session.end') AND actor = 'admin'`), '3');
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.drain', 'host', 'nowhere');
        await waitFor(() => /no GPU host "nowhere" in gpu_hosts/.test(s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+')), 'unknown host refused');
        // an id never given out: refused at once, not retried for minutes
        s.redis('XADD', 'axon:jobs', '*', 'kind', 'session.end', 'session_id', '999999', 'reason', 'typo');
        await waitFor(() => /refused: no session 999999 \(the last id given out is \d+\)/
            .test(s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+')), 'unknown session refused');
    } finally {
        stop();
    }
});

// Redis flushed while a session runs (FLUSHALL: the worker keeps its
// connection; only axon:wallets:synced gone tells it): it writes back the
// balances, the session counter, the profiles, and every live session with
// its wallet's pointer to it; the wallet finds its session and releases
// it; no claim draws the id of an earlier session (a claim without the
// counter is refused, and the worker writes it back from Postgres)
test('Redis flushed: the running session found again and released; no session id drawn twice', async () => {
    const v = await user(100);
    const last = Number(s.sql('SELECT max(id) FROM sessions'));
    await s.stack('stop', 'worker');
    try {
        s.redis('DEL', 'axon:session:next');
        const r = await s.api('/api/session', v.token, 'POST', { profile: 'small' });
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'worker_unavailable');
        assert.equal(s.redis('--raw', 'HGET', `axon:wallet:${v.addr}`, 'session'), '');
        assert.notEqual(s.redis('--raw', 'HGET', 'axon:session:1', 'wallet'), v.addr, 'no id drawn from 1 again');
    } finally {
        await s.stack('start', 'worker');
    }
    await waitFor(() => s.redis('--raw', 'GET', 'axon:session:next') === String(last), 'the counter written back');

    const u = await user(100);
    const stop = beating(u);
    try {
        await claim(u);
        await until(u, 'running');
        s.redis('FLUSHALL');
        await waitFor(() => s.redis('--raw', 'EXISTS', 'axon:wallets:synced') === '1', 'the wallets written back');
        await waitFor(async () => (await s.api('/api/profiles')).status === 200, 'the profiles written back');
        // the tokens were in Redis: signed in again
        u.token = (await s.signIn(u.w)).token;
        v.token = (await s.signIn(v.w)).token;
        const st = await until(u, 'running', 30000);
        assert.equal(st.session_id, u.id);
        assert.equal((await gate('/desktop/', u.token)).status, 200, 'the gate routes to it');

        assert.ok(await claim(v) > u.id, `a new id: ${v.id} after ${u.id}`);
        assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
        assert.equal((await until(u, 'ended')).session_id, u.id);
        assert.equal((await s.api('/api/release', v.token, 'POST')).status, 202);
        await waitFor(async () => ['ended', undefined].includes((await status(v)).status)
                                  && s.sql(`SELECT state FROM sessions WHERE id = ${v.id}`) === 'ended',
                      'the second session ended');
        await waitFor(() => liveGpus() === 0, 'every GPU free');
    } finally {
        stop();
    }
});
