// GPU hosts through the Docker Engine API: the launcher's engine backend
// (launcher engine, axon-worker/launcher_engine.c) against real engines,
// `podman system service` on unix sockets in this test's directory
// (t/lib/engine.mjs), driven through build/axon-launch as t/launcher.test.mjs
// drives the CLI backend; the worker's configuration check of an engine;
// and two hosts (gpu_hosts NAME=GPUS@ENGINE), each with its own worker,
// GPU list, port range and container prefix, on one Redis and Postgres.
// Every container and volume a test makes is removed at the end, and
// every engine service stopped, pass or fail.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { promisify } from 'node:util';
import { Wallet } from 'ethers';
import { BUILD, Stack, waitFor, portIsFree } from './lib/stack.mjs';
import { Engine, CONTAINERS_CONF } from './lib/engine.mjs';

const run = promisify(execFile);
const LAUNCH = join(BUILD, 'axon-launch');
const WORKER = join(BUILD, 'axon-worker');
const penv = { ...process.env, CONTAINERS_CONF };

// session ids of this run: far from any real one, apart from a parallel run
const BASE = 910000000 + (process.pid % 100000) * 100;
let n = 0;
const nextId = () => BASE + n++;
const PREFIX = `axgt-h${process.pid}-`;

let dir, image, sshImage, network, engine, confs = 0;

function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

// a worker configuration for the engine and the test image, with overrides
function conf(extra = {}) {
    const keys = {
        launcher: 'engine',
        launcher_engine: engine.endpoint,
        launcher_image: image,
        launcher_ssh_image: sshImage,
        launcher_port: 8080,
        launcher_network: network,
        launcher_prefix: PREFIX,
        launcher_args: '--label axon.test=hosts',
        launcher_timeout: '20s',
        launcher_ready_timeout: '20s',
        launcher_stop_grace: '2s',
        home_keep: '0',
        ...extra,
    };
    const path = join(dir, `worker-${++confs}.conf`);
    writeFileSync(path, Object.entries(keys)
        .map(([k, v]) => `${k} ${JSON.stringify(String(v))}\n`).join(''));
    return path;
}

// runs axon-launch; never throws: { code, out, err, json }
async function launch(cfg, ...args) {
    let r;
    try {
        r = await run(LAUNCH, ['-c', cfg, ...args], { env: process.env });
        r.code = 0;
    } catch (e) {
        r = { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
    const err = r.stderr.toString();
    assert.doesNotMatch(err, /AddressSanitizer|LeakSanitizer|runtime error:/, err);
    let json;
    try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
    return { code: r.code, out: r.stdout.toString(), err, json };
}

async function get(port) {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    return res.text();
}

const exists = (name) => podman('container', 'exists', name).ok;

before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'axon-hosts-'));
    image = readFileSync(join(BUILD, 'images/test.ref'), 'utf8').trim();
    sshImage = readFileSync(join(BUILD, 'images/ssh.ref'), 'utf8').trim();
    network = `axon-h-${process.pid}`;
    const r = podman('network', 'create', network);
    assert.ok(r.ok, r.err);
    engine = new Engine(dir, 'a');
    await engine.start();
});

after(async () => {
    await engine?.stop();
    const ids = podman('ps', '-a', '-q', '--filter', `name=^${PREFIX}`).out;
    if (ids) podman('rm', '-f', '-t', '0', ...ids.split('\n'));
    const vols = podman('volume', 'ls', '-q', '--filter', `name=^${PREFIX}`).out;
    if (vols) podman('volume', 'rm', '-f', ...vols.split('\n'));
    podman('network', 'rm', '-f', network);
    rmSync(dir, { recursive: true, force: true });
});

test('engine: a launch answers on its port, is listed with its labels, and stop removes it', async () => {
    const id = nextId();
    const cfg = conf();
    const name = `${PREFIX}${id}`;
    const wallet = `0xdead "quoted" \\ {json} ${'x'.repeat(20)}`;

    const s = await launch(cfg, 'start', String(id), wallet, '--gpus', '0,2');
    assert.equal(s.code, 0, s.err);
    assert.equal(s.json.name, name);
    assert.equal(s.json.host, '127.0.0.1');
    assert.ok(s.json.port > 0);
    assert.equal(await get(s.json.port), `session=${id}\nwallet=${wallet}\ngpus=0,2\n`);

    // labels, launcher_args' label, the network, and the GPUs as the
    // engine's DeviceRequests (podman takes them and gives no GPU here)
    const fmt = '{{json .Config.Labels}}|{{json .NetworkSettings.Networks}}';
    const [labels, nets] = podman('inspect', '--format', fmt, name).out.split('|');
    assert.deepEqual(JSON.parse(labels), { 'axon.session': String(id), 'axon.wallet': wallet,
                                           'axon.mode': 'desktop', 'axon.test': 'hosts' });
    assert.ok(network in JSON.parse(nets), nets);

    // the same environment as the CLI backend's: axon's and the original
    // gate's image's (AXGT_*)
    const env = JSON.parse(podman('inspect', '--format', '{{json .Config.Env}}', name).out);
    for (const v of [`AXON_SESSION=${id}`, `AXON_WALLET=${wallet}`, 'AXON_GPUS=0,2',
                     `AXGT_SESSION_ID=${id}`, `AXGT_WALLET_ADDRESS=${wallet}`,
                     'AXGT_ASSIGNED_GPU_IDS=0,2', 'AXGT_DESKTOP_ENABLED=true']) {
        assert.ok(env.includes(v), `${v} in ${JSON.stringify(env)}`);
    }

    // exec, as the idle check reads nvidia-smi: stdout demultiplexed from
    // the engine's stream; the exit code; a missing command refused
    const smi = ['nvidia-smi', '--query-gpu=index,uuid,utilization.gpu', '--format=csv,noheader,nounits'];
    const ex = await launch(cfg, 'exec', String(id), '--', ...smi);
    assert.equal(ex.code, 0, ex.err);
    assert.equal(ex.out, '0, GPU-366db770-2957-4105-20b5-59227776f17a, 0\n');
    const bad = await launch(cfg, 'exec', String(id), '--', 'nvidia-smi', '--bogus');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /exec: exit 2/);
    const none = await launch(cfg, 'exec', String(id), '--', '/no/such/command');
    assert.equal(none.code, 1);
    assert.match(none.err, /engine .*: exec/);

    // the same session again: the engine's words, the running one kept
    const again = await launch(cfg, 'start', String(id), '0x2');
    assert.equal(again.code, 1);
    assert.match(again.err, new RegExp(`axon-launch: engine ${engine.endpoint}: create: HTTP \\d+: .*"${name}" is already in use`));
    assert.match(await get(s.json.port), new RegExp(`^session=${id}\n`));

    const l = await launch(cfg, 'list');
    assert.equal(l.code, 0, l.err);
    const mine = l.json.find(c => c.session === id);
    assert.deepEqual(mine, { name, wallet, mode: 'desktop', state: 'running', id: s.json.id,
                             session: id });

    const t = await launch(cfg, 'stop', String(id));
    assert.equal(t.code, 0, t.err);
    assert.equal(exists(name), false);
    assert.equal((await launch(cfg, 'list')).json.some(c => c.session === id), false);
    // stopping what is gone is done, not an error
    assert.equal((await launch(cfg, 'stop', String(id))).code, 0);
});

test('engine: an SSH session: key login on the port the engine published', async () => {
    const id = nextId();
    const key = join(dir, 'id_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'axon test', '-f', key]);
    const cfg = conf({ launcher_ssh_port: 22 });
    const s = await launch(cfg, 'start', String(id), '0x1', '--ssh', readFileSync(`${key}.pub`, 'utf8').trim());
    assert.equal(s.code, 0, s.err);
    assert.equal(s.json.mode, 'ssh');
    assert.notEqual(s.json.port, 0);

    const r = spawnSync('ssh', ['-i', key, '-p', String(s.json.port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
        '-o', 'ConnectTimeout=10', 'aXonian@127.0.0.1', 'id -un'], { timeout: 20000 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), 'aXonian\n');
    assert.equal((await launch(cfg, 'stop', String(id))).code, 0);
});

test('engine: a missing image fails with the engine\'s own words and leaves no container', async () => {
    const id = nextId();
    const s = await launch(conf({ launcher_image: 'localhost/axon-no-such-image:none' }),
        'start', String(id), '0x1');
    assert.equal(s.code, 1);
    assert.match(s.err, /axon-launch: engine unix:\/\/.*: create: HTTP 404: .*axon-no-such-image:none.*image not known/);
    assert.equal(exists(`${PREFIX}${id}`), false);
});

test('engine: a container that never answers is removed after launcher_ready_timeout', async () => {
    const id = nextId();
    const t0 = Date.now();
    const s = await launch(conf({ launcher_port: 9999, launcher_ready_timeout: '1500ms' }),
        'start', String(id), '0x1');
    assert.equal(s.code, 1);
    assert.match(s.err, new RegExp(`${PREFIX}${id}: nothing answered on 127.0.0.1:\\d+ within 1500 ms`));
    assert.ok(Date.now() - t0 < 15000);
    assert.equal(exists(`${PREFIX}${id}`), false);
});

test('engine: a home volume made at the first start, labelled; home-rm refused while used', async () => {
    const cfg = conf({ home_keep: '7d' });
    const wallet = `0x${'ab'.repeat(20)}`;
    const home = `${PREFIX}home-${wallet}`;
    const id = nextId();
    const s = await launch(cfg, 'start', String(id), wallet);
    assert.equal(s.code, 0, s.err);
    assert.deepEqual(JSON.parse(podman('volume', 'inspect', '--format', '{{json .Labels}}', home).out),
                     { 'axon.home': wallet, 'axon.test': 'hosts' });
    const w = podman('exec', '--user', '1000', `${PREFIX}${id}`, 'sh', '-c',
                     'echo kept > /home/aXonian/f && stat -c %u /home/aXonian');
    assert.equal(w.out, '1000', w.err);
    assert.deepEqual((await launch(cfg, 'homes')).json, [{ name: home, wallet }]);

    const busy = await launch(cfg, 'home-rm', wallet);
    assert.equal(busy.code, 1);
    assert.match(busy.err, /engine .*: volume remove: HTTP \d+: .*(in use|being used)/);
    assert.ok(podman('volume', 'exists', home).ok);

    // the next session of the wallet has its file: the volume was kept
    assert.equal((await launch(cfg, 'stop', String(id))).code, 0);
    const id2 = nextId();
    assert.equal((await launch(cfg, 'start', String(id2), wallet)).code, 0);
    assert.equal(podman('exec', `${PREFIX}${id2}`, 'cat', '/home/aXonian/f').out, 'kept');
    assert.equal((await launch(cfg, 'stop', String(id2))).code, 0);

    assert.equal((await launch(cfg, 'home-rm', wallet)).code, 0);
    assert.equal(podman('volume', 'exists', home).ok, false);
    assert.equal((await launch(cfg, 'home-rm', wallet)).code, 0);
});

test('engine: an engine that accepts and never answers fails each call at launcher_timeout', async () => {
    const sock = join(dir, 'mute.sock');
    const held = [];
    const mute = createServer(c => held.push(c));
    await new Promise(ok => mute.listen(sock, ok));
    try {
        const t0 = Date.now();
        const l = await launch(conf({ launcher_engine: `unix://${sock}`, launcher_timeout: '1s' }), 'list');
        const took = Date.now() - t0;
        assert.equal(l.code, 1);
        assert.match(l.err, new RegExp(`axon-launch: engine unix://${sock}: list: .*[Tt]imed? ?out`));
        assert.ok(took >= 1000 && took < 5000, `took ${took} ms`);
    } finally {
        for (const c of held) c.destroy();
        await new Promise(ok => mute.close(ok));
    }
});

// axon-worker -t: { code, err }
function check(keys) {
    const path = join(dir, `check-${++confs}.conf`);
    writeFileSync(path, Object.entries(keys)
        .map(([k, v]) => `${k} ${JSON.stringify(String(v))}\n`).join(''));
    const r = spawnSync(WORKER, ['-t', '-c', path]);
    return { code: r.status, err: r.stderr.toString(), path };
}

test('config: an engine that does not answer (but a host of several), a malformed one, missing TLS files and CLI words are refused at start', () => {
    const ok = check({ launcher: 'engine', launcher_engine: engine.endpoint });
    assert.equal(ok.code, 0, ok.err);

    const gone = check({ launcher: 'engine', launcher_engine: `unix://${dir}/none.sock` });
    assert.equal(gone.code, 78);
    assert.match(gone.err, new RegExp(`axon-worker: ${gone.path}:2: launcher_engine: engine unix://${dir}/none.sock: ping: cannot connect to the socket: No such file or directory`));

    const bad = check({ launcher: 'engine', launcher_engine: 'tcp://10.0.0.1:2375' });
    assert.equal(bad.code, 78);
    assert.match(bad.err, /:2: launcher_engine "tcp:\/\/10.0.0.1:2375": neither unix:\/\/\/PATH nor https:\/\/HOST:PORT/);

    const tls = check({ launcher: 'engine', launcher_engine: 'https://gpu2.example:2376',
                        launcher_tls_ca: join(dir, 'ca.pem') });
    assert.equal(tls.code, 78);
    assert.match(tls.err, new RegExp(`:3: launcher_tls_ca "${dir}/ca.pem": No such file or directory \\(needed for the engine https://gpu2.example:2376\\)`));

    // a host of gpu_hosts that does not answer: a warning, not a refusal
    // (the worker starts, the host down until it answers)
    const one = check({ gpu_hosts: `a=0,1@${engine.endpoint} b=0,1@unix://${dir}/none.sock` });
    assert.equal(one.code, 0, one.err);
    assert.match(one.err, new RegExp(`axon-worker: warning: ${one.path}:1: gpu_hosts: host "b": engine unix://${dir}/none.sock: ping: cannot connect to the socket: No such file or directory: it is down until it answers`));
    assert.doesNotMatch(one.err, /host "a"/);

    const words = check({ launcher: 'engine', launcher_engine: engine.endpoint, launcher_args: '--label a=b --shm-size 1g' });
    assert.equal(words.code, 78);
    assert.match(words.err, /:3: launcher_args: "--shm-size" is a word of the docker CLI; with launcher engine only --label K=V/);
});


describe('two hosts, two workers, one database', () => {
    let st, engB, w2, w2exit, w3, w3exit, prefixA, prefixB, bPorts;

    const sql = (q) => {
        const r = st.psql(q);
        assert.ok(r.ok, r.err);
        return r.out;
    };
    const api = (path, token, method = 'GET', body) => st.json(path, {
        method,
        headers: { authorization: `Bearer ${token}`,
                   ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    let refs = 0;
    async function user(minutes) {
        const w = Wallet.createRandom();
        const { token } = await st.signIn(w);
        const addr = w.address.toLowerCase();
        st.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
                 'minutes', String(minutes), 'ref', `h-${process.pid}-${++refs}`);
        await waitFor(() => st.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === String(minutes), 'the grant');
        return { w, token, addr };
    }
    const session = (id) => {
        const [state, host, reason] = sql(`SELECT state, coalesce(host, ''), coalesce(end_reason, '')
                                             FROM sessions WHERE id = ${id}`).split('|');
        return { state, host, reason };
    };
    const names = (prefix) => podman('ps', '-a', '--format', '{{.Names}}', '--filter', `name=^${prefix}`)
        .out.split('\n').filter(Boolean).sort();

    // a port range of 8 free ports, not the stack's own
    async function freeRange(not) {
        for (;;) {
            const start = 20000 + 32 * Math.floor(Math.random() * 360);
            if (Math.abs(start - not) < 32) continue;
            const free = await Promise.all(Array.from({ length: 8 }, (_, i) => portIsFree(start + i)));
            if (free.every(Boolean)) return start;
        }
    }

    before(async () => {
        // engine a is the file's; b is this one's
        engB = new Engine(dir, 'b');
        await engB.start();
        prefixB = `${PREFIX}b-`;
        st = new Stack({
            sessions: true,
            workerConf: [
                `gpu_hosts "a=0,1@${engine.endpoint}"`,
                'port_pool_size 8',
                'profiles "small:1:1 big:3:1 huge:4:1"',
                'billing_minute 2s',
                'billing_tick 200ms',
                'session_idle_timeout 0',
                'session_grace 3s',
                'reconcile_interval 1s',
                'launcher_timeout 10s',
                'launcher_ready_timeout 20s',
            ].join('\n'),
        });
        await st.start();
        // host a's worker: the stack's own, with the stack's prefix
        prefixA = `axgt-${basename(st.dir)}-`;

        // worker 2: the same stack's configuration, host b with its own
        // prefix, ports and address (both hosts are this machine: b's
        // address is 127.0.0.2)
        bPorts = await freeRange(st.portPoolStart);
        const conf = readFileSync(join(st.dir, 'worker.conf'), 'utf8').split('\n')
            .filter(l => !/^(gpu_hosts|launcher_prefix)\s/.test(l)).join('\n')
            + `\ngpu_hosts "b=0,1@${engB.endpoint}"\nlauncher_prefix ${prefixB}\n`
            + `gpu_host_ports "b=${bPorts}:8"\ngpu_host_addrs "b=127.0.0.2"\n`
            + 'worker_id hosts-w2\n';
        writeFileSync(join(st.dir, 'worker-b.conf'), conf + `log_file "${join(st.logs, 'worker-b.log')}"\n`);
        await startW2();
    });

    async function startW2() {
        const out = join(st.logs, 'worker-b.log');
        const starts = () => existsSync(out)
            ? (readFileSync(out, 'utf8').match(/started.*worker_id hosts-w2/g) || []).length : 0;
        const before = starts();
        w2 = spawn(WORKER, ['-c', join(st.dir, 'worker-b.conf')], {
            stdio: 'ignore', env: { ...process.env, CONTAINERS_CONF },
        });
        w2exit = new Promise(ok => w2.once('exit', ok));
        await waitFor(() => starts() > before, 'worker 2 started', 30000);
    }

    after(async () => {
        // whatever a failed test left running: a worker left would keep
        // this file from ending
        for (const [w, exit] of [[w2, w2exit], [w3, w3exit]]) {
            if (w && w.exitCode === null && w.signalCode === null) {
                w.kill('SIGCONT');
                w.kill('SIGTERM');
                await exit;
            }
        }
        await st?.stop();
        await engB?.stop();
    });

    // the pool the page reads, and the health admins read
    const pool = async () => (await st.json('/api/profiles')).body.pool;
    const health = () => {
        const v = st.redis('--raw', 'HGETALL', 'axon:hosts').split('\n').filter(Boolean);
        const o = {};
        for (let i = 0; i + 1 < v.length; i += 2) o[v[i]] = JSON.parse(v[i + 1]);
        return o;
    };
    const byName = (p) => Object.fromEntries(p.hosts.map(h => [h.name, h]));

    test('axon:profiles: the pool of both workers\' hosts, whichever wrote last', async () => {
        const p = await waitFor(async () => {
            const x = await pool();
            return x.hosts.length === 2 ? x : null;
        }, 'both hosts in the pool', 30000);
        const h = byName(p);
        assert.deepEqual(Object.keys(h).sort(), ['a', 'b']);
        // each written by its own worker, kept past its next sweep
        assert.ok(h.a.worker && h.a.worker !== 'hosts-w2', h.a.worker);
        assert.equal(h.b.worker, 'hosts-w2');
        for (const x of [h.a, h.b]) assert.ok(x.expires > Date.now() / 1000 + 1, JSON.stringify(x));
        for (const x of [h.a, h.b]) {
            assert.deepEqual([x.gpus, x.free, x.down, x.draining, x.ports_free], [2, [0, 1], false, false, 8]);
        }
        assert.equal(p.gpus, 4);
        assert.equal(p.free, 4);
        assert.equal(p.ports.free, 16);
        // the hosts of a worker that stopped writing drop out once expired
        st.redis('HSET', 'axon:profiles:hosts', 'gone',
                 JSON.stringify({ worker: 'gone-w', expires: 1, name: 'gone', gpus: 8, free: [0], down: false,
                                  draining: false, ports_free: 8 }));
        await waitFor(() => st.redis('HEXISTS', 'axon:profiles:hosts', 'gone') === '(integer) 0',
                      'the expired host dropped', 30000);
        assert.deepEqual((await pool()).hosts.map(x => x.name).sort(), ['a', 'b']);
        assert.equal((await pool()).gpus, 4);
    });

    const users = [];

    test('claims fill both hosts, each its own prefix and ports; no GPU in two sessions', async () => {
        for (let i = 0; i < 4; i++) users.push(await user(100));
        for (const u of users) {
            const r = await api('/api/session', u.token, 'POST', { profile: 'small' });
            assert.equal(r.status, 202, JSON.stringify(r.body));
            u.id = r.body.session_id;
        }
        await waitFor(() => users.every(u => session(u.id).state === 'running'), 'four sessions running', 120000);
        const hosts = users.map(u => session(u.id).host);
        assert.deepEqual([...hosts].sort(), ['a', 'a', 'b', 'b']);
        for (const u of users) {
            u.host = session(u.id).host;
            u.name = `${u.host === 'a' ? prefixA : prefixB}${u.id}`;
        }
        assert.deepEqual(names(prefixA), users.filter(u => u.host === 'a').map(u => u.name).sort());
        assert.deepEqual(names(prefixB), users.filter(u => u.host === 'b').map(u => u.name).sort());
        // each host's ports from its own pool, at its own address
        for (const u of users) {
            const [port, up] = sql(`SELECT port, upstream FROM sessions WHERE id = ${u.id}`).split('|');
            if (u.host === 'b') {
                assert.ok(port >= bPorts && port < bPorts + 8, `port ${port} of b's pool`);
                assert.equal(up, `127.0.0.2:${port}`);
            } else {
                assert.ok(port >= st.portPoolStart && port < st.portPoolStart + 8, `port ${port} of a's pool`);
                assert.equal(up, `127.0.0.1:${port}`);
            }
        }
        // the constraint holds, and so does the count
        assert.equal(sql(`SELECT count(*) FROM (SELECT host, gpu_index FROM gpu_assignments
                          WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) x`), '0');
        assert.equal(sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'), '4');
        const bad = st.psql(`INSERT INTO gpu_assignments (session_id, host, gpu_index)
                             SELECT ${users[0].id}, host, gpu_index FROM gpu_assignments
                              WHERE session_id = ${users[1].id} AND released_at IS NULL`);
        assert.equal(bad.ok, false);
        assert.match(bad.err, /duplicate key|unique/);
    });

    test('an engine down: the other host\'s worker touches none of its sessions; back up, the sweep reconciles', async () => {
        const onB = users.filter(u => u.host === 'b');
        const onA = users.filter(u => u.host === 'a');
        const idsA = onA.map(u => podman('inspect', '--format', '{{.Id}}', u.name).out);
        await engB.stop();
        // worker 2's sweep finds its engine gone, twice; worker 1's runs
        // meanwhile (1 s): with b's containers out of its list, the sweep
        // before hosts ended them as container_vanished
        const log2 = () => readFileSync(join(st.logs, 'worker-b.log'), 'utf8');
        await waitFor(() => (log2().match(/reconcile: host b: cannot list the containers/g) || []).length >= 2,
                      'worker 2 failing to list host b', 30000);
        for (const u of users) assert.equal(session(u.id).state, 'running', `session ${u.id} on ${u.host}`);
        assert.deepEqual(onA.map(u => podman('inspect', '--format', '{{.Id}}', u.name).out), idsA);
        // b's sessions say why, a's say nothing
        for (const u of onB) {
            await waitFor(async () => (await api('/api/session', u.token)).body.reason === 'host_unreachable',
                          `session ${u.id} marked`, 30000);
        }
        assert.equal(sql(`SELECT count(*) FROM sessions WHERE host = 'a' AND reason IS NOT NULL AND state <> 'ended'`), '0');

        // billing: b's sessions are due no minute that begins after b's
        // last confirmed list; a's go on (2 s minutes, a tick every 200 ms)
        await waitFor(() => sql(`SELECT down FROM hosts WHERE name = 'b'`) === 't', 'b down in hosts');
        const billed = (u) => Number(sql(`SELECT billed_minutes FROM sessions WHERE id = ${u.id}`));
        const last = (u) => Number(sql(`SELECT floor(extract(epoch FROM greatest(h.confirmed_at, s.started_at)
                                                            - s.started_at) / 2) + 1
                                          FROM sessions s JOIN hosts h ON h.name = s.host
                                         WHERE s.id = ${u.id}`));
        await waitFor(() => onB.every(u => billed(u) >= last(u)), 'b billed up to its last confirmed minute');
        const frozen = onB.map(billed);
        const a0 = billed(onA[0]);
        await waitFor(() => billed(onA[0]) >= a0 + 3, 'a billing three more minutes', 30000);
        assert.deepEqual(onB.map(billed), frozen, 'b billed nothing while down');
        // a minute may have begun between b's last list and the sweep that
        // found it down; no more than that
        onB.forEach((u, k) => assert.ok(frozen[k] <= last(u) + 1, `${frozen[k]} <= ${last(u)} + 1`));

        // while b is down, one of its containers is lost
        podman('rm', '-f', '-t', '0', onB[0].name);
        await engB.start();
        await waitFor(() => session(onB[0].id).state === 'ended', 'the lost container\'s session ended', 30000);
        assert.equal(session(onB[0].id).reason, 'container_vanished');
        // its billing stayed at the last minute confirmed running
        assert.equal(billed(onB[0]), frozen[0]);
        assert.equal(session(onB[1].id).state, 'running');
        for (const u of onA) assert.equal(session(u.id).state, 'running');
        await waitFor(async () => !(await api('/api/session', onB[1].token)).body.reason,
                      'the mark gone, b back', 30000);
        assert.equal(sql(`SELECT down FROM hosts WHERE name = 'b'`), 'f');
        // the other ran throughout: its minutes are billed, each once
        await waitFor(() => billed(onB[1]) >= frozen[1] + 3, 'b\'s survivor billed again', 30000);
        // one statement, one snapshot: the survivor's tick runs on
        for (const u of onB) {
            const [keys, rows, sum, n, balance] = sql(`
                SELECT (SELECT count(DISTINCT idempotency_key) FROM credit_ledger l
                         WHERE l.kind = 'usage' AND l.reference = 'session:' || s.id),
                       (SELECT count(*) FROM credit_ledger l
                         WHERE l.kind = 'usage' AND l.reference = 'session:' || s.id),
                       (SELECT coalesce(sum(-delta_minutes), 0) FROM credit_ledger l
                         WHERE l.kind = 'usage' AND l.reference = 'session:' || s.id),
                       s.billed_minutes, b.balance
                  FROM sessions s JOIN wallet_balances b ON b.wallet = s.wallet
                 WHERE s.id = ${u.id}`).split('|').map(Number);
            assert.deepEqual([keys, rows, sum, balance], [n, n, n, 100 - n], `session ${u.id}`);
        }
    });

    test('releases stop each session on its own host', async () => {
        const live = users.filter(u => session(u.id).state === 'running');
        for (const u of live) {
            const r = await api('/api/release', u.token, 'POST');
            assert.equal(r.status, 202, JSON.stringify(r.body));
        }
        await waitFor(() => live.every(u => session(u.id).state === 'ended'), 'all ended', 60000);
        assert.deepEqual(names(prefixA), []);
        assert.deepEqual(names(prefixB), []);
        assert.equal(sql('SELECT count(*) FROM gpu_assignments WHERE released_at IS NULL'), '0');
    });

    test('an SSH session on host b (host a drained) is reached at b\'s address', async () => {
        // a drain of a reaches whichever worker takes the job
        st.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.drain', 'host', 'a', 'reason', 'hosts test');
        await waitFor(() => sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'a'") === '1', 'a drained');
        const key = join(dir, 'id_b');
        spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'axon hosts', '-f', key]);
        const u = await user(100);
        const r = await api('/api/session', u.token, 'POST',
                            { profile: 'small', mode: 'ssh', ssh_public_key: readFileSync(`${key}.pub`, 'utf8').trim() });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        u.id = r.body.session_id;
        const stt = await waitFor(async () => {
            const x = (await api('/api/session', u.token)).body;
            return x.status === 'running' ? x : null;
        }, 'the SSH session running', 90000);
        assert.equal(session(u.id).host, 'b');
        assert.equal(stt.ssh_host, '127.0.0.2');
        assert.ok(stt.ssh_port >= bPorts && stt.ssh_port < bPorts + 8);
        const ssh = spawnSync('ssh', ['-i', key, '-p', String(stt.ssh_port), '-o', 'BatchMode=yes',
            '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
            '-o', 'ConnectTimeout=10', `aXonian@${stt.ssh_host}`, 'id -un'], { timeout: 20000 });
        assert.equal(ssh.status, 0, ssh.stderr.toString());
        assert.equal(ssh.stdout.toString(), 'aXonian\n');

        st.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.undrain', 'host', 'a');
        await waitFor(() => sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'a'") === '0', 'a back');
        assert.equal((await api('/api/release', u.token, 'POST')).status, 202);
        await waitFor(() => session(u.id).state === 'ended', 'the SSH session ended', 60000);
        assert.deepEqual(names(prefixB), []);
    });

    test('a host that does not answer: axon:hosts says so, new claims go to the other host', async () => {
        const hosts = () => {
            const v = st.redis('--raw', 'HGET', 'axon:hosts', 'b');
            return v ? JSON.parse(v) : null;
        };
        await waitFor(() => hosts()?.state === 'up', 'host b up in axon:hosts', 30000);
        assert.equal(hosts().worker, 'hosts-w2');
        await engB.stop();
        await waitFor(() => hosts()?.state === 'down', 'host b down in axon:hosts', 30000);
        assert.match(hosts().error, /cannot connect to the socket/);
        // each worker its host's field: a's stays up, written by worker 1
        const hl = health();
        assert.deepEqual(Object.keys(hl).sort(), ['a', 'b']);
        assert.equal(hl.a.state, 'up');
        assert.notEqual(hl.a.worker, 'hosts-w2');
        assert.ok(Math.abs(hl.a.at - Date.now() / 1000) < 30, JSON.stringify(hl.a));
        // the pool: b down, none of its GPUs free; a's still there
        const p = await waitFor(async () => {
            const x = await pool();
            return byName(x).b?.down === true ? x : null;
        }, 'b down in the pool', 30000);
        assert.deepEqual([byName(p).a.down, byName(p).a.free], [false, [0, 1]]);
        assert.equal(p.gpus, 4);
        assert.equal(p.free, 2);
        assert.equal(p.ports.free, 8);
        assert.match(readFileSync(join(st.logs, 'worker-b.log'), 'utf8'),
                     /host b is down: no new sessions start there until it answers/);

        // worker 2 drives only b: with b out of its pool, every claim goes
        // to a, whichever worker takes it
        const claims = [await user(100), await user(100)];
        for (const u of claims) {
            const r = await api('/api/session', u.token, 'POST', { profile: 'small' });
            assert.equal(r.status, 202, JSON.stringify(r.body));
            u.id = r.body.session_id;
        }
        await waitFor(() => claims.every(u => session(u.id).state === 'running'), 'both on a', 90000);
        assert.deepEqual(claims.map(u => session(u.id).host), ['a', 'a']);

        await engB.start();
        await waitFor(() => hosts()?.state === 'up', 'host b up again', 30000);
        for (const u of claims) assert.equal((await api('/api/release', u.token, 'POST')).status, 202);
        await waitFor(() => claims.every(u => session(u.id).state === 'ended'), 'released', 60000);
    });

    test('a profile only another worker\'s host fits: the claim waits for it, whichever worker takes it; one no host fits is refused', async () => {
        // b gets a third GPU (worker 2 reloads): big (3 GPUs) fits b only
        const conf = join(st.dir, 'worker-b.conf');
        writeFileSync(conf, readFileSync(conf, 'utf8')
            .replace(`"b=0,1@${engB.endpoint}"`, `"b=0,1,2@${engB.endpoint}"`));
        w2.kill('SIGHUP');
        const hostB = () => JSON.parse(st.redis('--raw', 'HGET', 'axon:profiles:hosts', 'b') || 'null');
        await waitFor(() => hostB()?.gpus === 3, 'b with 3 GPUs in the pool', 30000);

        // worker 2 stopped (its hosts stay in the pool until they expire):
        // worker 1, whose one host has 2 GPUs, takes the claim and queues
        // it for b.  A stopped (SIGSTOP) worker would not do: Redis
        // delivers a job to a blocked XREADGROUP whether or not its
        // process runs
        const u = await user(100);
        w2.kill('SIGTERM');
        await w2exit;
        const r = await api('/api/session', u.token, 'POST', { profile: 'big' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        u.id = r.body.session_id;
        await waitFor(() => st.psql(`SELECT state FROM sessions WHERE id = ${u.id}`).out !== '',
                      'the claim recorded', 30000);
        assert.equal(session(u.id).state, 'queued', JSON.stringify(session(u.id)));
        await startW2();
        await waitFor(() => session(u.id).state === 'running', 'big running on b', 90000);
        assert.equal(session(u.id).host, 'b');
        assert.equal(sql(`SELECT count(*) FROM gpu_assignments WHERE session_id = ${u.id} AND released_at IS NULL`), '3');
        assert.equal((await api('/api/release', u.token, 'POST')).status, 202);
        await waitFor(() => session(u.id).state === 'ended', 'big released', 60000);

        // huge (4 GPUs) fits no worker's host: refused, by either
        const v = await user(100);
        const h = await api('/api/session', v.token, 'POST', { profile: 'huge' });
        if (h.status === 202) {
            await waitFor(() => session(h.body.session_id).state === 'ended', 'huge refused');
            assert.equal(session(h.body.session_id).reason, 'no_host_fits');
        } else {
            assert.match(JSON.stringify(h.body), /no_host_fits/);
        }
    });

    test('kill -9 of a worker mid-launch: the other worker of its host finishes the launch; one container, its GPU once', async () => {
        // b only: a drained; a second worker for b beside worker 2 (the
        // same host, prefix and ports), either may lease the launch
        st.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.drain', 'host', 'a', 'reason', 'hosts test');
        await waitFor(() => sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'a'") === '1', 'a drained');
        const conf3 = readFileSync(join(st.dir, 'worker-b.conf'), 'utf8')
            .replace(/^worker_id .*$/m, 'worker_id hosts-w3')
            .replace(/^log_file .*$/m, `log_file "${join(st.logs, 'worker-b3.log')}"`);
        writeFileSync(join(st.dir, 'worker-b3.conf'), conf3);
        w3 = spawn(WORKER, ['-c', join(st.dir, 'worker-b3.conf')], {
            stdio: 'ignore', env: { ...process.env, CONTAINERS_CONF },
        });
        w3exit = new Promise(ok => w3.once('exit', ok));
        const log3 = join(st.logs, 'worker-b3.log');
        await waitFor(() => existsSync(log3) && /started.*worker_id hosts-w3/.test(readFileSync(log3, 'utf8')),
                      'worker 3 started', 30000);

        const u = await user(100);
        const r = await api('/api/session', u.token, 'POST', { profile: 'small' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        u.id = r.body.session_id;
        let by;
        await waitFor(() => {
            const [state, lease] = sql(`SELECT state, coalesce(lease_by, '') FROM sessions WHERE id = ${u.id}`).split('|');
            by = lease;
            return state === 'starting' && /^hosts-w[23]$/.test(lease);
        }, 'a worker of b launching it', 60000);
        const [dead, deadExit, other, otherLog] = by === 'hosts-w2'
            ? [w2, w2exit, 'hosts-w3', log3] : [w3, w3exit, 'hosts-w2', join(st.logs, 'worker-b.log')];
        dead.kill('SIGKILL');
        await deadExit;
        assert.notEqual(session(u.id).state, 'ended');

        // the lease runs out; the other worker takes it and launches again
        await waitFor(() => session(u.id).state === 'running', 'the launch finished', 90000);
        assert.equal(session(u.id).host, 'b');
        // a second lease, which first removed what the first left
        assert.ok(Number(sql(`SELECT attempts FROM sessions WHERE id = ${u.id}`)) >= 2);
        assert.match(readFileSync(otherLog, 'utf8'),
                     new RegExp(`session ${u.id}.*launch attempt [2-9]: removing what an earlier attempt may have left`));
        assert.deepEqual(names(prefixB), [`${prefixB}${u.id}`]);
        assert.equal(sql(`SELECT count(*) FROM gpu_assignments WHERE session_id = ${u.id} AND released_at IS NULL`), '1');
        assert.equal(sql(`SELECT count(*) FROM (SELECT host, gpu_index FROM gpu_assignments
                          WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) x`), '0');

        st.redis('XADD', 'axon:jobs', '*', 'kind', 'gpu.undrain', 'host', 'a');
        assert.equal((await api('/api/release', u.token, 'POST')).status, 202);
        await waitFor(() => session(u.id).state === 'ended', 'released', 60000);
        assert.deepEqual(names(prefixB), []);
        for (const [w, exit] of [[w2, w2exit], [w3, w3exit]]) {
            if (w.exitCode === null && w.signalCode === null) {
                w.kill('SIGTERM');
                await exit;
            }
        }
    });
});
