// SSH sessions end to end: a claim in SSH mode with a fresh ed25519 key,
// the worker launches the test image's sshd (dropbear) with that key as
// the only one, on a port of the port pool, and a real `ssh` runs a
// command there; another key and a password are refused; the session
// bills on without heartbeats; a full pool queues the claim; release
// closes the port and returns it to the pool; kill -9 of the worker
// leaves ports, GPUs and containers consistent.  Real nginx, worker,
// Postgres, Redis, podman.  3 GPUs and a pool of 2 ports.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor, ROOT } from './lib/stack.mjs';

const s = new Stack({
    sessions: true,
    workerConf: ['gpu_hosts local=0,1,2', 'profiles "small:1:1"', 'billing_minute 2s',
                 'session_grace 4s',     // a claim holds it: 2 minutes, not 5m / 2s
                 'billing_tick 200ms', 'launcher_timeout 20s', 'launcher_ready_timeout 20s',
                 // a desktop this idle would be stopped; an SSH session is not
                 'session_idle_timeout 2s', 'reconcile_interval 2s',
                 'port_pool_size 2',
                 // a stable worker_id: a restarted worker takes back its own leases at once
                 'worker_id w1', 'queue_consumer w1'].join('\n'),
});
const keys = mkdtempSync(join(tmpdir(), 'axon-ssh-'));
let prefix, pool;
before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
    pool = [s.portPoolStart, s.portPoolStart + 1];
});
after(async () => {
    rmSync(keys, { recursive: true, force: true });
    await s.stop();
});

const penv = { ...process.env, CONTAINERS_CONF: `${ROOT}/conf/podman/containers.conf` };
function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}
const containers = () => podman('ps', '-a', '--format', '{{.Names}}', '--filter', `name=^${prefix}`)
    .out.split('\n').filter(Boolean).sort();

let nkeys = 0;
function keygen(type = 'ed25519', bits) {
    const name = `k${++nkeys}`;
    spawnSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', name,
                             '-f', join(keys, name)]);
    return { name, pub: readFileSync(join(keys, `${name}.pub`), 'utf8').trim() };
}

function ssh(key, port, cmd, opts = [], user = 'aXonian') {
    // ssh takes the first value of an option: opts come first
    const r = spawnSync('ssh', [...opts, '-i', join(keys, key.name), '-p', String(port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes',
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${user}@127.0.0.1`, cmd], { timeout: 20000 });
    return { code: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

// a TCP connection to 127.0.0.1:port: 'open' or the error's code
const tcp = port => new Promise(ok => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); ok('open'); });
    c.on('error', e => ok(e.code));
});

let refs = 0;
async function user(minutes = 100) {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr, 'minutes', String(minutes),
            'ref', `ssh-${process.pid}-${++refs}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'the grant');
    return { addr, token, auth: { authorization: `Bearer ${token}` }, key: keygen() };
}

async function claim(u, key = u.key.pub) {
    const r = await s.json('/api/session', { method: 'POST', headers: { ...u.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: 'small', mode: 'ssh', ssh_public_key: key }) });
    return r;
}

async function claimed(u) {
    const r = await claim(u);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    u.id = r.body.session_id;
    return u;
}

const status = async u => (await s.json('/api/session', { headers: u.auth })).body;
const state = u => s.sql(`SELECT state FROM sessions WHERE id = ${u.id}`);

async function running(u) {
    const st = await waitFor(async () => {
        const b = await status(u);
        return b.status === 'running' && b;
    }, `session ${u.id} running`, 60000);
    u.port = Number(st.connect.port);
    return st;
}

async function release(u) {
    const r = await s.json('/api/release', { method: 'POST', headers: u.auth });
    assert.equal(r.status, 202, JSON.stringify(r.body));
}

const ended = u => waitFor(() => state(u) === 'ended', `session ${u.id} ended`, 40000);

// no port nor GPU in two live sessions; each live session has one
// container, published on its port
function consistent() {
    assert.equal(s.sql(`SELECT count(*) FROM (SELECT host, port FROM sessions WHERE state <> 'ended'
                      AND port IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) t`), '0');
    assert.equal(s.sql(`SELECT count(*) FROM (SELECT host, gpu_index FROM gpu_assignments
                      WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) t`), '0');
    assert.equal(s.sql(`SELECT count(*) FROM gpu_assignments a JOIN sessions s ON s.id = a.session_id
                      WHERE a.released_at IS NULL AND s.state = 'ended'`), '0', 'no GPU of an ended session');
    const live = s.sql("SELECT id || ' ' || port FROM sessions WHERE state IN ('running', 'starting', 'ending') ORDER BY id")
        .split('\n').filter(Boolean).map(l => l.split(' ').map(Number));
    assert.deepEqual(containers(), live.map(([id]) => `${prefix}${id}`).sort(), 'one container per live session');
    for (const [id, port] of live) {
        assert.ok(pool.includes(port), `session ${id}: port ${port} is of the pool ${pool}`);
        assert.match(podman('port', `${prefix}${id}`, '22/tcp').out, new RegExp(`:${port}$`));
    }
}

test('claim in SSH mode: ssh in with the key runs a command; another key and a password are refused; release closes the port', async () => {
    const u = await claimed(await user());
    const other = keygen();
    const st = await running(u);
    assert.equal(st.mode, 'ssh');
    assert.equal(st.connect.host, '127.0.0.1');
    assert.equal(st.connect.user, 'aXonian');
    assert.ok(pool.includes(u.port), `port ${u.port} is of the pool ${pool}`);
    assert.equal(u.port, pool[0], 'the lowest free port of the pool');
    assert.equal(s.sql(`SELECT port FROM sessions WHERE id = ${u.id}`), String(u.port));
    assert.equal(st.connect.path, undefined, 'no desktop path for an SSH session');
    // the API's names, and the command to paste, which works as given
    assert.equal(st.ssh_host, '127.0.0.1');
    assert.equal(st.ssh_port, u.port);
    assert.equal(st.ssh_user, 'aXonian');
    assert.equal(st.ssh_command, `ssh -p ${u.port} -o StrictHostKeyChecking=accept-new aXonian@127.0.0.1`);
    const [bin, ...args] = st.ssh_command.split(' ');
    const pasted = spawnSync(bin, ['-i', join(keys, u.key.name), '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', ...args, 'echo pasted'], { timeout: 20000 });
    assert.equal(pasted.stdout.toString().trim(), 'pasted', pasted.stderr.toString());

    const ok = ssh(u.key, u.port, 'echo ok');
    assert.equal(ok.out, 'ok', ok.err);
    // the SSH image (images/ssh): a login shell of aXonian, told its session
    assert.match(podman('inspect', '--format', '{{.ImageName}}', `${prefix}${u.id}`).out, /axon-session-ssh:/);
    const who = ssh(u.key, u.port, 'id -un; cat /etc/axon-session');
    assert.equal(who.code, 0, who.err);
    assert.match(who.out, new RegExp(`^aXonian\nsession=${u.id}\n`));
    assert.notEqual(ssh(u.key, u.port, 'echo ok', [], 'root').code, 0, 'no root login');
    const refused = ssh(other, u.port, 'echo ok');
    assert.notEqual(refused.code, 0, 'another key is refused');
    // the methods the server offers after a failure: publickey only
    const pw = ssh(u.key, u.port, 'echo ok', ['-o', 'PubkeyAuthentication=no',
        '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'LogLevel=INFO']);
    assert.notEqual(pw.code, 0, 'no password login');
    assert.match(pw.err, /Permission denied \(publickey\)/, pw.err);
    consistent();

    await release(u);
    await ended(u);
    assert.notEqual(ssh(u.key, u.port, 'echo ok').code, 0, 'the port is closed after release');
    assert.equal(await tcp(u.port), 'ECONNREFUSED', 'nothing listens on the port');
    assert.equal(s.sql(`SELECT count(*) FROM sessions WHERE state <> 'ended' AND port = ${u.port}`), '0');
    assert.deepEqual(containers(), []);
});

test('two sessions, two ports; the SSH connection closed, billing goes on; a full pool queues the claim until a port is free', async () => {
    const a = await claimed(await user());
    await running(a);
    const b = await claimed(await user());
    await running(b);
    assert.deepEqual([a.port, b.port].sort(), pool, 'two ports of the pool (the one released before is back)');
    assert.equal(a.port, pool[0], 'the first test\'s port, back in the pool');

    assert.equal(ssh(a.key, a.port, 'echo a').out, 'a');
    assert.equal(ssh(b.key, b.port, 'echo b').out, 'b');
    assert.notEqual(ssh(a.key, b.port, 'echo x').code, 0, 'a\'s key does not open b\'s shell');
    assert.notEqual(ssh(b.key, a.port, 'echo x').code, 0, 'b\'s key does not open a\'s shell');

    // no heartbeat was ever sent and the connections are closed: past
    // session_idle_timeout (2s) the minutes keep being billed
    const usage = u => Number(s.sql(`SELECT count(*) FROM credit_ledger WHERE reference = 'session:${u.id}' AND kind = 'usage'`));
    const before = usage(a);
    await waitFor(() => usage(a) >= before + 3, 'three more minutes billed', 30000);
    assert.equal(state(a), 'running');
    assert.equal(s.sql(`SELECT end_reason IS NULL AND stop_at IS NULL FROM sessions WHERE id = ${a.id}`), 't');
    // one statement, one snapshot: a tick between two reads would differ
    assert.equal(s.sql(`SELECT billed_minutes || ' ' || (SELECT count(*) FROM credit_ledger
                        WHERE reference = 'session:${a.id}' AND kind = 'usage') FROM sessions WHERE id = ${a.id}`)
                     .split(' ').reduce((x, y) => x === y ? 'same' : `${x} != ${y}`), 'same');

    // a third: one GPU free, no port
    const c = await claimed(await user());
    const q = await waitFor(async () => {
        const st = await status(c);
        return /free port/.test(st.reason || '') && st;
    }, 'queued for a port');
    assert.equal(q.status, 'queued');
    assert.equal(q.position, 1);
    assert.match(q.reason, /^waiting for a free port \(1 GPU free, but the port pool is in use\)$/);
    assert.match(s.redis('--raw', 'HGET', `axon:session:${c.id}`, 'reason'), /free port/, 'the reason in Redis');
    assert.equal(s.sql(`SELECT count(*) FROM gpu_assignments WHERE session_id = ${c.id}`), '0', 'no GPU taken meanwhile');
    const prof = await waitFor(async () => {
        const r = await s.json('/api/profiles');
        return r.body.pool?.ports?.free === 0 && r.body;
    }, 'GET /api/profiles: no free port');
    assert.deepEqual(prof.pool.ports, { start: pool[0], size: 2, free: 0 });
    assert.equal(prof.ssh, true, 'ssh_sessions on (the default)');
    assert.equal(prof.pool.hosts[0].ports_free, 0);
    assert.equal(prof.pool.free, 1, 'a GPU is free');
    consistent();

    await release(a);
    await waitFor(() => state(c) !== 'queued', 'c scheduled', 30000);
    assert.equal(state(a), 'ended', 'the port is handed out only once a\'s container is gone');
    await running(c);
    assert.equal(c.port, a.port, 'the freed port');
    assert.equal(ssh(c.key, c.port, 'echo c').out, 'c');
    assert.notEqual(ssh(a.key, c.port, 'echo x').code, 0, 'the port\'s former key is refused');
    consistent();

    await release(b);
    await release(c);
    await ended(b);
    await ended(c);
    assert.deepEqual(containers(), []);
});

test('bad keys through the API: 400, and nothing claimed, queued or started', async () => {
    const ed = keygen().pub;
    const [, blob] = ed.split(' ');
    const u = await user();
    for (const [what, key] of [
        ['wrong type', `ssh-dss ${blob}`],
        ['truncated base64', `ssh-ed25519 ${blob.slice(0, -5)}`],
        ['mismatched embedded type', `ecdsa-sha2-nistp256 ${blob}`],
        ['options prefix', `no-pty,command="sh" ${ed}`],
        ['newline injection', `${ed}\nssh-ed25519 ${blob} evil`],
        ['1024-bit rsa', keygen('rsa', 1024).pub],
    ]) {
        const r = await claim(u, key);
        assert.equal(r.status, 400, what);
        assert.equal(r.body.error.code, 'bad_ssh_key', what);
    }
    const ok = await claim(u, ed);                  // then a good one is taken
    assert.equal(ok.status, 202);
    u.id = ok.body.session_id;
    assert.equal(s.sql(`SELECT count(*) FROM sessions WHERE wallet = '${u.addr}'`), '1', 'only the good claim');
    assert.equal(s.sql(`SELECT ssh_key FROM sessions WHERE wallet = '${u.addr}'`), ed);
    await running(u);
    assert.deepEqual(containers(), [`${prefix}${u.id}`]);
    await release(u);
    await ended(u);
});

let restarted = 0;

// n reconcile sweeps of the worker started last (by kill9: the one before
// it is gone): each writes its host's field of axon:hosts, "at" in whole
// seconds; those written after the second it started in are its own
async function sweeps(n) {
    const since = Math.floor(restarted / 1000);
    const at = new Set();
    await waitFor(() => {
        const v = s.redis('--raw', 'HGET', 'axon:hosts', 'local');
        const h = v ? JSON.parse(v) : null;
        if (h && h.at > since) at.add(h.at);
        return at.size >= n;
    }, `${n} reconcile sweeps of the new worker`);
}

async function kill9() {
    const pid = s.pid('worker');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the kill');
    restarted = Date.now();
    await s.stack('start', 'worker');
}

test('kill -9 of the worker with SSH sessions live and launching: ports, GPUs and containers stay consistent', async () => {
    const a = await claimed(await user());
    await running(a);
    const b = await claimed(await user());
    await running(b);
    const c = await claimed(await user());         // queued: no port
    await waitFor(async () => /free port/.test((await status(c)).reason || ''), 'c queued for a port');

    await kill9();
    // the new process reconciles at once, then every 2s: two of its sweeps
    await sweeps(2);
    assert.equal(state(a), 'running');
    assert.equal(state(b), 'running');
    assert.equal(state(c), 'queued');
    assert.equal(ssh(a.key, a.port, 'echo a').out, 'a', 'a\'s shell survives the worker');
    assert.equal(ssh(b.key, b.port, 'echo b').out, 'b');
    consistent();

    // c launches on a's port; the worker dies mid-launch
    await release(a);
    await waitFor(() => state(c) === 'starting', 'c starting', 30000);
    assert.equal(state(a), 'ended');
    assert.equal(s.sql(`SELECT port FROM sessions WHERE id = ${c.id}`), String(a.port));
    await kill9();
    await running(c);
    assert.equal(c.port, a.port);
    assert.equal(ssh(c.key, c.port, 'echo c').out, 'c');
    consistent();

    for (const u of [b, c]) await release(u);
    for (const u of [b, c]) await ended(u);
    consistent();
    assert.equal(s.sql("SELECT count(*) FROM sessions WHERE state <> 'ended'"), '0');
    assert.equal(s.sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'), '0');
    await waitFor(() => containers().length === 0, 'no container left');
});

test('ended while its container is being launched: the launching worker stops it; GPU and port are freed only then', async () => {
    const u = await claimed(await user());
    await waitFor(() => s.sql(`SELECT state = 'starting' AND lease_until IS NOT NULL FROM sessions WHERE id = ${u.id}`) === 't',
                  'starting, leased by the worker', 30000);
    // as an admin's session.end would, while the worker is in `podman run`;
    // the row read back in the same transaction (one psql -c), which holds
    // the row: a launch that ends at this moment cannot change it between
    // the two, and the test sees what the stop left
    const [stopped, left] = s.sql(`SELECT axon_session_stop(${u.id}, NULL, 'admin', false); ` +
        `SELECT state || ' ' || (lease_until IS NOT NULL) FROM sessions WHERE id = ${u.id}`).split('\n');
    assert.equal(stopped, 'stopping');
    assert.equal(left, 'ending true', 'still under the launching worker\'s lease: no other worker ends it meanwhile');
    await ended(u);
    assert.equal(s.sql(`SELECT end_reason || ' ' || billed_minutes FROM sessions WHERE id = ${u.id}`), 'admin 0');
    await waitFor(() => containers().length === 0, 'no container left');
    consistent();
    assert.equal(s.sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'), '0');
});
