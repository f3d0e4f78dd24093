// The launcher against a real container runtime: podman (the docker CLI),
// the locally built axon-session-test image (make images), and
// build/axon-launch, which runs the worker's launcher.c from the command
// line.  Containers are reached only through ports published on 127.0.0.1.
// Every container a test starts is removed at the end, pass or fail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { promisify } from 'node:util';
import { BUILD, ROOT } from './lib/stack.mjs';

const run = promisify(execFile);
const LAUNCH = join(BUILD, 'axon-launch');
const CONTAINERS_CONF = join(ROOT, 'conf/podman/containers.conf');
const penv = { ...process.env, CONTAINERS_CONF };

// session ids of this run: far from any real one, apart from a parallel run
const BASE = 900000000 + (process.pid % 100000) * 100;
const used = new Set();
let n = 0;
const nextId = () => { const id = BASE + n++; used.add(id); return id; };

let dir, image, network, confs = 0;

function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

// a worker configuration for the test image, with overrides
function conf(extra = {}) {
    const keys = {
        launcher_docker: 'podman',
        containers_conf: CONTAINERS_CONF,
        launcher_image: image,
        launcher_port: 8080,
        launcher_ssh_port: 22,
        launcher_network: network,
        // no GPUs here: the template becomes a label and an env var, which
        // shows what {gpus} turned into
        launcher_gpu_args: '--label axon.gpus={gpus} -e NVIDIA_VISIBLE_DEVICES={gpus}',
        launcher_args: '--pull never',
        launcher_timeout: '20s',
        launcher_ready_timeout: '20s',
        launcher_stop_grace: '2s',
        // no home volumes: these wallets are not addresses, and the
        // default prefix's volumes would be a real stack's (t/home.test.mjs)
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
        r = await run(LAUNCH, ['-c', cfg, ...args], { env: penv });
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

before(() => {
    dir = mkdtempSync(join(tmpdir(), 'axon-launcher-'));
    image = readFileSync(join(BUILD, 'images/test.ref'), 'utf8').trim();
    network = `axon-t-${process.pid}`;
    const r = podman('network', 'create', network);
    assert.ok(r.ok, r.err);
});

after(() => {
    for (const id of used) podman('rm', '-f', '-t', '0', `axgt-session-${id}`);
    podman('network', 'rm', '-f', network);
    rmSync(dir, { recursive: true, force: true });
});

test('a launch answers on its port, is listed with its labels, and stop removes it', async () => {
    const id = nextId();
    const cfg = conf();
    // shell syntax in a value lands literally: argv, never a shell
    const marker = `/tmp/axon-pwned-${process.pid}`;
    const wallet = `0xdead; touch ${marker}; $(touch ${marker}) \`touch ${marker}\` "'|&`;

    const s = await launch(cfg, 'start', String(id), wallet);
    assert.equal(s.code, 0, s.err);
    assert.equal(s.json.name, `axgt-session-${id}`);
    assert.equal(s.json.host, '127.0.0.1');
    assert.ok(s.json.port > 0);
    assert.equal(await get(s.json.port), `session=${id}\nwallet=${wallet}\ngpus=\n`);
    assert.equal(existsSync(marker), false);
    rmSync(marker, { force: true });

    // the same session again: refused, and the running one is left alone
    const again = await launch(cfg, 'start', String(id), '0x2');
    assert.equal(again.code, 1);
    assert.match(again.err, /podman run: exit 125: Error: .*"axgt-session-\d+" is already in use/);
    assert.match(await get(s.json.port), new RegExp(`^session=${id}\n`));

    const l = await launch(cfg, 'list');
    assert.equal(l.code, 0, l.err);
    const mine = l.json.find(c => c.session === id);
    assert.deepEqual(
        { name: mine.name, wallet: mine.wallet, mode: mine.mode, state: mine.state, id: mine.id },
        { name: `axgt-session-${id}`, wallet, mode: 'desktop', state: 'running', id: s.json.id });

    const i = podman('inspect', '--format', '{{index .Config.Labels "axon.wallet"}} {{json .NetworkSettings.Networks}}', s.json.name);
    assert.ok(i.out.startsWith(`${wallet} `), i.out);
    assert.match(i.out, new RegExp(`"${network}"`));

    const t = await launch(cfg, 'stop', String(id));
    assert.equal(t.code, 0, t.err);
    assert.equal(podman('container', 'exists', s.json.name).ok, false);
    assert.equal((await launch(cfg, 'list')).json.some(c => c.session === id), false);

    // stopping what is gone is done, not an error
    assert.equal((await launch(cfg, 'stop', String(id))).code, 0);
});

test('a list while its containers are removed (between ps and inspect): what is left, not an error', async () => {
    const id = nextId();
    const s = await launch(conf(), 'start', String(id), '0x00000000000000000000000000000000000000cc');
    assert.equal(s.code, 0, s.err);
    // a docker that removes the container just before inspect runs, as
    // another worker's stop or a parallel run's cleanup can
    const vanish = join(dir, 'docker-vanish');
    writeFileSync(vanish, '#!/bin/sh\n'
        + `[ "$1" = inspect ] && podman rm -f -t 0 ${s.json.name} >/dev/null 2>&1\n`
        + 'exec podman "$@"\n');
    chmodSync(vanish, 0o755);
    const l = await launch(conf({ launcher_docker: vanish }), 'list');
    assert.equal(l.code, 0, l.err);
    assert.ok(Array.isArray(l.json), l.out);
    assert.equal(l.json.some(c => c.session === id), false);
    assert.equal(podman('container', 'exists', s.json.name).ok, false);
});

test('two launches reach two containers; the GPU template gets the indexes', async () => {
    const cfg = conf();
    const [a, b] = [nextId(), nextId()];
    const [sa, sb] = await Promise.all([
        launch(cfg, 'start', String(a), '0x00000000000000000000000000000000000000aa', '--gpus', '0,2'),
        launch(cfg, 'start', String(b), '0x00000000000000000000000000000000000000bb'),
    ]);
    assert.equal(sa.code, 0, sa.err);
    assert.equal(sb.code, 0, sb.err);
    assert.notEqual(sa.json.port, sb.json.port);
    assert.match(await get(sa.json.port), new RegExp(`^session=${a}\nwallet=0x0+aa\ngpus=0,2\n$`));
    assert.match(await get(sb.json.port), new RegExp(`^session=${b}\nwallet=0x0+bb\ngpus=\n$`));

    // the template's words, {gpus} replaced; left out without GPUs
    const fmt = '{{index .Config.Labels "axon.gpus"}}|{{range .Config.Env}}{{.}} {{end}}';
    const ia = podman('inspect', '--format', fmt, sa.json.name).out;
    const ib = podman('inspect', '--format', fmt, sb.json.name).out;
    assert.match(ia, /^0,2\|.*NVIDIA_VISIBLE_DEVICES=0,2 /);
    assert.doesNotMatch(ib, /axon.gpus|NVIDIA_VISIBLE_DEVICES/);
    assert.match(ib, /^\|/);

    await Promise.all([launch(cfg, 'stop', String(a)), launch(cfg, 'stop', String(b))]);
    assert.equal(podman('container', 'exists', sa.json.name).ok, false);
    assert.equal(podman('container', 'exists', sb.json.name).ok, false);
});

test('an SSH session: key login as aXonian on the published sshd port', async () => {
    const id = nextId();
    const key = join(dir, 'id_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'axon test', '-f', key]);
    const cfg = conf();
    const s = await launch(cfg, 'start', String(id), '0x1', '--ssh', readFileSync(`${key}.pub`, 'utf8').trim());
    assert.equal(s.code, 0, s.err);
    assert.equal(s.json.mode, 'ssh');

    const r = spawnSync('ssh', ['-i', key, '-p', String(s.json.port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
        '-o', 'ConnectTimeout=10', 'aXonian@127.0.0.1', 'id -un; cat /etc/axon-session'], { timeout: 20000 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), `aXonian\nsession=${id}\nwallet=0x1\ngpus=\n`);

    // another key is refused
    const other = join(dir, 'other');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const o = spawnSync('ssh', ['-i', other, '-p', String(s.json.port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
        'aXonian@127.0.0.1', 'true'], { timeout: 20000 });
    assert.notEqual(o.status, 0);

    assert.equal((await launch(cfg, 'stop', String(id))).code, 0);
});

test('a missing image fails with the runtime\'s own words and leaves no container', async () => {
    const id = nextId();
    const s = await launch(conf({ launcher_image: 'localhost/axon-no-such-image:none' }),
        'start', String(id), '0x1');
    assert.equal(s.code, 1);
    assert.match(s.err, /axon-launch: podman run: exit 125: Error: .*axon-no-such-image:none.*image not known/);
    assert.equal(podman('container', 'exists', `axgt-session-${id}`).ok, false);
});

test('a container that never answers is removed after launcher_ready_timeout', async () => {
    const id = nextId();
    const t0 = Date.now();
    const s = await launch(conf({ launcher_port: 9999, launcher_ready_timeout: '1500ms' }),
        'start', String(id), '0x1');
    assert.equal(s.code, 1);
    assert.match(s.err, new RegExp(`axgt-session-${id}: nothing answered on 127.0.0.1:\\d+ within 1500 ms`));
    assert.ok(Date.now() - t0 < 15000);
    assert.equal(podman('container', 'exists', `axgt-session-${id}`).ok, false);
});

test('a container that exits is a failed launch at once, not at the ready timeout', async () => {
    const id = nextId();
    const t0 = Date.now();
    const s = await launch(conf({ launcher_args: '--pull never --entrypoint /bin/false' }),
        'start', String(id), '0x1');
    assert.equal(s.code, 1);
    assert.match(s.err, new RegExp(`axgt-session-${id} is not running: exited \\(exit code 1\\)`));
    assert.ok(Date.now() - t0 < 15000, 'well before launcher_ready_timeout (20s)');
    assert.equal(podman('container', 'exists', `axgt-session-${id}`).ok, false);
});

test('a container command that hangs is killed at launcher_timeout, with what it spawned', async () => {
    // not a runtime: a stand-in for one that hangs, to test the timeout;
    // its background sleep keeps the pipes open, so only killing the
    // process group ends the wait
    const nap = `${(BASE % 1000) + 100}.5`;
    const fake = join(dir, 'docker-hangs');
    writeFileSync(fake, `#!/bin/sh\ncase $1 in\nrun) sleep ${nap} & wait ;;\n` +
        `*) echo "Error: No such container: $3" >&2; exit 1 ;;\nesac\n`);
    chmodSync(fake, 0o755);

    const t0 = Date.now();
    const s = await launch(conf({ launcher_docker: fake, launcher_timeout: '1s' }),
        'start', String(nextId()), '0x1');
    const took = Date.now() - t0;
    assert.equal(s.code, 1);
    assert.match(s.err, /axon-launch: ".*docker-hangs" did not finish within 1000 ms: killed/);
    assert.ok(took < 5000, `took ${took} ms`);
    const ps = spawnSync('pgrep', ['-f', `sleep ${nap}`]);
    assert.equal(ps.status, 1, `left behind: ${ps.stdout}`);
});

test('a docker binary that is not there is a clean error', async () => {
    const s = await launch(conf({ launcher_docker: join(dir, 'no-docker') }), 'list');
    assert.equal(s.code, 1);
    assert.match(s.err, /cannot run ".*no-docker": No such file or directory/);
});

test('a home volume: made at the first start, labelled, with the image\'s home; kept by stop; home-rm not while used', async () => {
    const prefix = `axgt-lt${process.pid}-`;
    const cfg = conf({ home_keep: '7d', launcher_prefix: prefix,
                       launcher_args: '--pull never --label axon.test=home' });
    const wallet = `0x${'ab'.repeat(20)}`;
    const name = `${prefix}home-${wallet}`;
    const ids = [nextId(), nextId()];
    try {
        const s = await launch(cfg, 'start', String(ids[0]), wallet);
        assert.equal(s.code, 0, s.err);
        assert.deepEqual(JSON.parse(podman('volume', 'inspect', '--format', '{{json .Labels}}', name).out),
                         { 'axon.home': wallet, 'axon.test': 'home' });
        // the image's home, its owner with it: uid 1000 writes there
        const w = podman('exec', '--user', '1000', `${prefix}${ids[0]}`, 'sh', '-c',
                         'echo kept > /home/aXonian/f && stat -c %u /home/aXonian');
        assert.equal(w.out, '1000', w.err);
        assert.deepEqual((await launch(cfg, 'homes')).json, [{ name, wallet }]);

        // used by a container: the runtime refuses, the volume stays
        const busy = await launch(cfg, 'home-rm', wallet);
        assert.equal(busy.code, 1);
        assert.match(busy.err, /podman volume rm: exit \d+: .*(in use|being used)/);
        assert.ok(podman('volume', 'exists', name).ok);

        // stop keeps it: the wallet's next container has the file
        assert.equal((await launch(cfg, 'stop', String(ids[0]))).code, 0);
        const again = await launch(cfg, 'start', String(ids[1]), wallet);
        assert.equal(again.code, 0, again.err);
        assert.equal(podman('exec', `${prefix}${ids[1]}`, 'cat', '/home/aXonian/f').out, 'kept');
        assert.equal((await launch(cfg, 'stop', String(ids[1]))).code, 0);

        const rm = await launch(cfg, 'home-rm', wallet);
        assert.equal(rm.code, 0, rm.err);
        assert.equal(podman('volume', 'exists', name).ok, false);
        assert.deepEqual((await launch(cfg, 'homes')).json, []);
        // gone is done; a wallet that is not an address names no volume
        assert.equal((await launch(cfg, 'home-rm', wallet)).code, 0);
        const bad = await launch(cfg, 'start', String(nextId()), '0x1');
        assert.equal(bad.code, 1);
        assert.match(bad.err, /wallet "0x1" names no home volume/);
    } finally {
        for (const id of ids) podman('rm', '-f', '-t', '0', `${prefix}${id}`);
        podman('volume', 'rm', '-f', name);
    }
});

test('home_size where the runtime has no size for a volume: the launch fails saying so', async (t) => {
    const root = podman('info', '--format', '{{.Store.GraphRoot}}').out;
    const fs = spawnSync('stat', ['-f', '-c', '%T', root]).stdout.toString().trim();
    if (fs === 'xfs') return t.skip('volumes on XFS: project quotas may give them a size');
    const prefix = `axgt-ls${process.pid}-`;
    const cfg = conf({ home_keep: '7d', launcher_prefix: prefix, home_size: '1g' });
    const wallet = `0x${'cd'.repeat(20)}`;
    const id = nextId();
    try {
        const s = await launch(cfg, 'start', String(id), wallet);
        assert.equal(s.code, 1);
        assert.match(s.err, /podman volume create: exit \d+: .*size.*not supported/);
        assert.equal(podman('container', 'exists', `${prefix}${id}`).ok, false);
        assert.equal(podman('volume', 'exists', `${prefix}home-${wallet}`).ok, false);
    } finally {
        podman('rm', '-f', '-t', '0', `${prefix}${id}`);
        podman('volume', 'rm', '-f', `${prefix}home-${wallet}`);
    }
});

test('the local stack\'s worker.conf launches the test image; axon-stack down removes it', async () => {
    // `stop worker` writes the stack's configuration and starts nothing
    const stack = join(ROOT, 'scripts/axon-stack');
    const var_ = mkdtempSync(join(tmpdir(), 'axon-stack-'));
    // the stack's own default is the desktop image: the tests name theirs
    const env = { ...process.env, AXON_VAR: var_, AXON_BUILD: BUILD,
                  AXON_SESSION_IMAGE: image, AXON_SESSION_PORT: '8080' };
    const id = nextId();
    try {
        await run(stack, ['stop', 'worker'], { env });
        const s = await launch(join(var_, 'worker.conf'), 'start', String(id), `0x${'e'.repeat(40)}`);
        assert.equal(s.code, 0, s.err);
        assert.match(await get(s.json.port), new RegExp(`^session=${id}\n`));
        // the wallet's home volume carries the stack's label, as the container does
        assert.match(podman('volume', 'ls', '-q', '--filter', `label=axon.stack=${var_}`).out,
                     new RegExp(`-home-0x${'e'.repeat(40)}$`));
    } finally {
        await run(stack, ['down'], { env });
        const vols = podman('volume', 'ls', '-q', '--filter', `label=axon.stack=${var_}`).out;
        if (vols) podman('volume', 'rm', '-f', ...vols.split('\n'));
        rmSync(var_, { recursive: true, force: true });
    }
    assert.equal(podman('container', 'exists', `axgt-session-${id}`).ok, false);
});
