// GPU hosts through the Docker Engine API: the launcher's engine backend
// (launcher engine, axon-worker/launcher_engine.c) against real engines,
// `podman system service` on unix sockets in this test's directory
// (t/lib/engine.mjs), driven through build/axon-launch as t/launcher.test.mjs
// drives the CLI backend; and the worker's configuration check of an
// engine.  Every container and volume a test makes is removed at the end,
// and every engine service stopped, pass or fail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUILD } from './lib/stack.mjs';
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

test('config: an engine that does not answer, a malformed one, missing TLS files and CLI words are refused at start', () => {
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

    const words = check({ launcher: 'engine', launcher_engine: engine.endpoint, launcher_args: '--label a=b --shm-size 1g' });
    assert.equal(words.code, 78);
    assert.match(words.err, /:3: launcher_args: "--shm-size" is a word of the docker CLI; with launcher engine only --label K=V/);
});
