// The Debian packages as an operator meets them: `make deb` (lintian
// clean), then both packages installed into a clean Debian 12 root beside
// Debian's own nginx, Redis and PostgreSQL, the gate brought up, then
// removed and purged.
//
// The root is made by mmdebstrap through this machine's apt sources and
// cached under $AXON_BUILD/deb-root/ as a tarball named by a hash of its
// package list (and imported once into podman as axon-deb-root:HASH), so
// only the first run pays for it.  It runs in a podman container with no
// network (loopback only) and no systemd: the services are started by
// hand the way their units would (pg_ctlcluster, redis-server, the worker
// as the user axon, nginx), and `systemd-analyze verify` checks the unit
// offline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD, ROOT, waitFor } from './lib/stack.mjs';
import { penv } from './lib/images.mjs';

const DEBS = join(BUILD, 'deb');
const PACKAGES = ['libnginx-mod-http-axon', 'axon-worker'];
// Debian's services beside ours, and what the test itself runs in the root
const BESIDE = ['nginx', 'redis-server', 'postgresql', 'curl', 'systemd'];
const CONF = '/etc/axon/axon-worker.conf';
const name = `axon-deb-test-${process.pid}`;

function run(cmd, args, opts = {}) {
    const r = spawnSync(cmd, args, { env: penv, maxBuffer: 1 << 26, ...opts });
    return {
        status: r.status,
        out: (r.stdout || '').toString().trim(),
        err: (r.stderr || '').toString().trim(),
    };
}

// a shell command inside the container, with its arguments as $1...
function sh(script, args = []) {
    return run('podman', ['exec', name, 'sh', '-c', script, 'sh', ...args]);
}

function ok(script) {
    const r = sh(script);
    assert.equal(r.status, 0, `${script}\n${r.out}\n${r.err}`);
    return r.out;
}

const missing = ['podman', 'mmdebstrap', 'dpkg-buildpackage', 'lintian']
    .filter((c) => run('sh', ['-c', `command -v ${c}`]).status !== 0);
const skip = process.env.AXON_SANITIZE === '1'
    ? 'the packages are the same under sanitizers: make test runs this'
    : missing.length ? `missing ${missing.join(', ')}: make deps` : false;

let files = [];       // every path the two packages ship

// the packages' own run-time dependencies, from the built .debs
function depends(deb) {
    return run('dpkg-deb', ['-f', deb, 'Depends']).out.split(',')
        .map((d) => d.trim().split(/[\s(|]/)[0])
        .filter((d) => d && !d.startsWith('nginx-abi-'));
}

function debFile(pkg) {
    const f = readdirSync(DEBS).find((n) => n.startsWith(`${pkg}_`)
                                            && n.endsWith('.deb'));
    assert.ok(f, `no ${pkg} package in ${DEBS}`);
    return join(DEBS, f);
}

// the image of a clean root with these packages: from podman's store, or
// the cached tarball, or mmdebstrap
function rootImage(include) {
    const key = createHash('sha256').update(`bookworm apt ${include}`)
        .digest('hex').slice(0, 12);
    const ref = `axon-deb-root:${key}`;
    if (run('podman', ['image', 'exists', ref]).status === 0) return ref;
    const dir = join(BUILD, 'deb-root');
    const tar = join(dir, `${key}.tar`);
    if (!existsSync(tar)) {
        mkdirSync(dir, { recursive: true });
        // mmdebstrap picks its output's format from the name's extension
        const tmp = join(dir, `${key}.tmp.tar`);
        const r = run('mmdebstrap', ['--quiet', '--variant=apt',
            `--include=${include}`, 'bookworm', tmp]);
        assert.equal(r.status, 0, `mmdebstrap: ${r.err}`);
        renameSync(tmp, tar);
        // the roots of older package lists, and their images, go
        for (const f of readdirSync(dir).filter((f) => f !== `${key}.tar`))
            rmSync(join(dir, f), { recursive: true, force: true });
        const old = run('podman', ['images', '-q', '--filter',
                                   'reference=axon-deb-root']).out;
        if (old) run('podman', ['rmi', '-f', ...new Set(old.split('\n'))]);
    }
    const r = run('podman', ['import', '--quiet', tar, ref]);
    assert.equal(r.status, 0, `podman import: ${r.err}`);
    return ref;
}

before(async () => {
    if (skip) return;
    // builds both packages and runs lintian on them: make fails on any
    // lintian warning or error
    const m = run('make', ['-s', '-C', ROOT, 'deb', `BUILD=${BUILD}`]);
    assert.equal(m.status, 0, `make deb:\n${m.out}\n${m.err}`);
    const debs = PACKAGES.map(debFile);
    for (const d of debs) {
        files = files.concat(run('dpkg-deb', ['-c', d]).out.split('\n')
            .filter((l) => !l.startsWith('d'))
            .map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, '')
                .replace(/ -> .*/, '')));
    }
    const include = [...new Set([...BESIDE, ...debs.flatMap(depends)])]
        .sort().join(',');
    const ref = rootImage(include);
    const r = run('podman', ['run', '-d', '--name', name, '--network', 'none',
        '-v', `${DEBS}:/debs:ro`, ref, 'sleep', 'infinity']);
    assert.equal(r.status, 0, `podman run: ${r.err}`);
});

after(() => {
    if (!skip) run('podman', ['rm', '-f', '-t', '0', name]);
});

test('the packages install beside Debian\'s nginx; the module is enabled',
     { skip }, () => {
    ok('dpkg -i ' + PACKAGES.map((p) => `/debs/${p}_*.deb`).join(' '));
    assert.equal(ok('readlink /etc/nginx/modules-enabled/50-mod-http-axon.conf'),
                 '/usr/share/nginx/modules-available/mod-http-axon.conf');
    // loaded, with the gate's site not yet enabled
    ok('nginx -t 2>&1');
    assert.equal(ok('getent passwd axon | cut -d: -f6,7'),
                 '/var/lib/axon:/usr/sbin/nologin');
    assert.equal(ok(`stat -c '%U:%G %a' ${CONF}`), 'root:axon 640');
});

test('systemd-analyze verify accepts the unit', { skip }, () => {
    const r = sh('systemd-analyze verify axon-worker.service 2>&1');
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out, '', 'no warning either');
    const sec = ok('systemd-analyze security --offline=yes '
                   + 'axon-worker.service 2>&1 | tail -1');
    // systemd's own scale: 0 to 10, under 4.0 it says "OK"
    const level = Number(/exposure level for [^:]+: ([\d.]+)/.exec(sec)?.[1]);
    assert.ok(level < 4, sec);
});

test('the worker checks its config and migrates', { skip }, () => {
    // what postgresql.service and redis-server.service would do
    ok('install -d -o postgres -g postgres -m 2775 /run/postgresql && '
       + 'pg_ctlcluster 15 main start');
    ok('install -d -o redis -g redis /run/redis && runuser -u redis -- '
       + 'redis-server /etc/redis/redis.conf --daemonize yes');
    // operating.md's steps
    ok('runuser -u postgres -- createuser axon && '
       + 'runuser -u postgres -- createdb -O axon axon');
    ok(`runuser -u axon -- axon-worker -c ${CONF} -t`);
    const m = sh(`runuser -u axon -- axon-worker -c ${CONF} --migrate 2>&1`);
    assert.equal(m.status, 0, m.out);
    // a second run has nothing left to do
    ok(`runuser -u axon -- axon-worker -c ${CONF} --migrate`);
});

test('nginx -t passes with the shipped site; /api/health answers 200',
     { skip }, async () => {
    const site = '/etc/nginx/sites-available/axon';
    // without the sign-in origin nginx refuses the gate, naming it
    ok('ln -s ../sites-available/axon /etc/nginx/sites-enabled/axon');
    const bad = sh('nginx -t 2>&1');
    assert.notEqual(bad.status, 0);
    assert.match(bad.out, /axon_siwe_domain/);
    ok(`sed -i -e 's|^# axon_siwe_domain .*|axon_siwe_domain gate.example.com;|' `
       + `-e 's|^# axon_siwe_uri .*|axon_siwe_uri https://gate.example.com/;|' `
       + site);
    ok('nginx -t 2>&1');
    // what axon-worker.service does, as the user axon
    ok(`runuser -u axon -- sh -c 'axon-worker -c ${CONF} `
       + `>/tmp/worker.log 2>&1 & echo $! >/tmp/worker.pid'`);
    ok('nginx');
    let last;
    await waitFor(() => {
        last = sh('curl -s -o /dev/null -w %{http_code} '
                  + 'http://127.0.0.1:6080/api/health');
        return last.out === '200';
    }, '/api/health 200', 30000).catch((e) => {
        throw new Error(`${e.message}: ${last.out}\n`
            + sh('curl -s http://127.0.0.1:6080/api/health; '
                 + 'cat /tmp/worker.log').out);
    });
    const h = JSON.parse(ok('curl -s http://127.0.0.1:6080/api/health'));
    assert.equal(h.status, 'ok');
    assert.deepEqual(h.down, []);
    // the launch page, from the package
    assert.equal(ok('curl -s -o /dev/null -w %{http_code} '
                    + 'http://127.0.0.1:6080/'), '200');
    // stopped as systemd would: SIGTERM finishes the current work
    ok('kill $(cat /tmp/worker.pid); nginx -s quit');
    // PID 1 here (sleep) reaps nobody: an exited worker stays a zombie
    await waitFor(() => sh('grep -qs "^State:.*[^Z] " '
                           + '/proc/$(cat /tmp/worker.pid)/status').status !== 0,
                  'the worker to exit', 15000);
    assert.match(ok('tail -1 /tmp/worker.log'), /: exit 0$/);
    await waitFor(() => sh('test -e /run/nginx.pid').status !== 0,
                  'nginx to exit', 15000);
});

test('remove keeps nginx working; purge leaves nothing behind',
     { skip }, () => {
    ok(`apt-get remove -y -q ${PACKAGES.join(' ')} 2>&1`);
    // the module unloaded and the gate disabled, so nginx still starts
    ok('nginx -t 2>&1');
    ok('test -e /etc/axon/axon-worker.conf && test -e /etc/nginx/sites-available/axon');
    ok(`apt-get purge -y -q ${PACKAGES.join(' ')} 2>&1`);
    ok('nginx -t 2>&1');
    assert.notEqual(sh('dpkg -S "*axon*"').status, 0, 'dpkg -S: no file');
    for (const p of PACKAGES) {
        const st = sh(`dpkg-query -W -f='\${Status}' ${p}`);
        assert.ok(st.status !== 0 || st.out === 'unknown ok not-installed',
                  `${p}: ${st.out}`);
    }
    assert.ok(files.length > 20);
    const left = files.concat(['/etc/axon', '/usr/share/axon',
        '/usr/share/axon-worker', '/var/lib/axon', '/var/log/axon',
        '/usr/share/doc/axon-worker', '/usr/share/doc/libnginx-mod-http-axon',
        '/etc/nginx/sites-enabled/axon',
        '/etc/nginx/modules-enabled/50-mod-http-axon.conf',
        '/etc/nginx/modules-enabled/50-mod-http-axon.conf.removed',
        '/var/log/nginx/axon-access.log']);
    // one exec for them all: each costs a fraction of a second
    const there = sh('for f; do test -e "$f" || test -L "$f" && echo "$f"; '
                     + 'done; true', left);
    assert.deepEqual(there.out.split('\n').filter(Boolean), []);
    assert.notEqual(sh('getent passwd axon').status, 0, 'the user axon');
    assert.notEqual(sh('getent group axon').status, 0, 'the group axon');
    assert.equal(ok('find /etc/systemd -name "axon*"'), '');
});
