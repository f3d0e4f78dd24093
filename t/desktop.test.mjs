// The desktop image: launched through build/axon-launch like any
// session, and on its own (single-desktop mode: podman run -p ...:6080,
// no gate); reached on 127.0.0.1 only.  `make images` builds it; without
// it (make test DESKTOP=0) this file skips itself, saying so.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { BUILD, ROOT, freePort, waitFor } from './lib/stack.mjs';
import { sessionImage, CONTAINERS_CONF, penv } from './lib/images.mjs';

const run = promisify(execFile);
const { ref: image, skip } = sessionImage('desktop');

const id = 910000000 + (process.pid % 100000) * 100;
// a prefix of its own: its home volume is this run's, not a real stack's
const prefix = `axgt-desk${process.pid}-`;
const wallet = '0x00000000000000000000000000000000000000dd';
let dir, cfg, session;

before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'axon-desktop-'));
    cfg = join(dir, 'worker.conf');
    writeFileSync(cfg, [
        'launcher_docker podman',
        `containers_conf "${CONTAINERS_CONF}"`,
        `launcher_image "${image}"`,
        'launcher_port 6080',
        'launcher_gpu_args ""',
        'launcher_args "--pull never"',
        'launcher_stop_grace 2s',
        `launcher_prefix ${prefix}`,
    ].join('\n') + '\n');
    const r = await run(join(BUILD, 'axon-launch'), ['-c', cfg, 'start', String(id), wallet],
        { env: { ...penv, AXON_VNC_PASSWORD: 's3cret12' } });
    session = JSON.parse(r.stdout);
});

const single = `axon-single-desktop-${process.pid}`;

after(async () => {
    if (skip) return;
    spawnSync('podman', ['rm', '-f', '-t', '0', `${prefix}${id}`], { env: penv });
    spawnSync('podman', ['volume', 'rm', '-f', `${prefix}home-${wallet}`], { env: penv });
    spawnSync('podman', ['rm', '-f', '-t', '0', single], { env: penv });
    rmSync(dir, { recursive: true, force: true });
});

test('the desktop serves the noVNC client', { skip }, async () => {
    const res = await fetch(`http://127.0.0.1:${session.port}/vnc.html`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /noVNC/);
});

test('its home is the wallet\'s volume: the image\'s skeleton, aXonian\'s own', { skip }, async () => {
    const mounts = spawnSync('podman', ['inspect', '--format', '{{json .Mounts}}', session.name], { env: penv });
    assert.match(mounts.stdout.toString(), new RegExp(`"Name":"${prefix}home-${wallet}".*"Destination":"/home/aXonian"`));
    const ls = spawnSync('podman', ['exec', '--user', 'aXonian', session.name, 'sh', '-c',
                                    'touch ~/w && stat -c %U ~ ~/w ~/.bashrc ~/.vncpasswd'], { env: penv });
    assert.equal(ls.stdout.toString().trim(), 'aXonian\naXonian\naXonian\naXonian', ls.stderr.toString());
});

test('its WebSocket speaks VNC (RFB 3.8) from the XFCE display', { skip }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${session.port}/websockify`, ['binary']);
    const messages = [];
    const next = () => new Promise((ok, fail) => {
        if (messages.length) return ok(messages.shift());
        ws.once('message', () => ok(messages.shift()));
        ws.once('error', fail);
    });
    ws.on('message', m => messages.push(Buffer.from(m)));
    await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });

    assert.equal((await next()).toString(), 'RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    const types = await next();
    assert.deepEqual([...types], [1, 2], 'offers VNC authentication only');
    ws.close();

    const ps = spawnSync('podman', ['exec', session.name, 'ps', '-eo', 'user,comm'], { env: penv });
    assert.match(ps.stdout.toString(), /aXonian\s+xfce4-session/);
});

// The RFB 3.8 handshake over websockify up to ServerInit, with security
// type None: [security types, {width, height, name}]
async function rfb(url) {
    const ws = new WebSocket(url, ['binary']);
    let buf = Buffer.alloc(0);
    ws.on('message', m => { buf = Buffer.concat([buf, Buffer.from(m)]); });
    const take = async n => {
        await waitFor(() => buf.length >= n, `${n} bytes of RFB`);
        const b = buf.subarray(0, n);
        buf = buf.subarray(n);
        return b;
    };
    try {
        await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
        assert.equal((await take(12)).toString(), 'RFB 003.008\n');
        ws.send(Buffer.from('RFB 003.008\n'));
        const n = (await take(1))[0];
        const types = [...await take(n)];
        if (!types.includes(1)) return [types, null];
        ws.send(Buffer.from([1]));                          // None
        assert.equal((await take(4)).readUInt32BE(0), 0, 'SecurityResult OK');
        ws.send(Buffer.from([1]));                          // ClientInit, shared
        const init = await take(24);
        const name = (await take(init.readUInt32BE(20))).toString();
        return [types, { width: init.readUInt16BE(0), height: init.readUInt16BE(2), name }];
    } finally {
        ws.close();
    }
}

test('single-desktop mode: the image alone (podman run -p ...:6080, no gate, no settings) serves its desktop',
     { skip }, async () => {
    const port = await freePort();
    // as `podman run -p 6080:6080 IMAGE`, published on 127.0.0.1 only here
    await run('podman', ['run', '-d', '--rm', '--pull', 'never', '--name', single,
                         '-p', `127.0.0.1:${port}:6080`, image], { env: penv });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/vnc.html`).catch(() => null))?.status === 200,
                  'the noVNC page', 60000);
    // no password was given: no VNC authentication, a 1600x900 XFCE
    // display (the default AXON_GEOMETRY)
    const [types, init] = await waitFor(async () => {
        const r = await rfb(`ws://127.0.0.1:${port}/websockify`).catch(() => null);
        return r && r[1] ? r : null;
    }, 'the VNC server behind websockify', 60000);
    assert.deepEqual(types, [1]);
    assert.deepEqual(init, { width: 1600, height: 900, name: 'axon session ' });
    await waitFor(() => /xfce4-session/.test(spawnSync('podman', ['exec', single, 'ps', '-eo', 'comm'], { env: penv }).stdout),
                  'XFCE started', 60000);
});

test('a supervisor starts again what dies: websockify, and Xvnc with XFCE on it', { skip }, async () => {
    const exec = (...a) => spawnSync('podman', ['exec', single, ...a], { env: penv });
    const pid = name => exec('pgrep', '-x', name).stdout.toString().trim();
    const port = Number(spawnSync('podman', ['port', single, '6080/tcp'], { env: penv })
        .stdout.toString().trim().split(':').pop());
    const answers = async () => {
        const r = await rfb(`ws://127.0.0.1:${port}/websockify`).catch(() => null);
        return r && r[1] ? r : null;
    };

    for (const name of ['websockify', 'Xvnc']) {
        const before = await waitFor(() => pid(name), `${name} running`, 30000);
        assert.equal(exec('pkill', '-KILL', '-x', name).status, 0, `${name} killed`);
        const after = await waitFor(() => { const p = pid(name); return p && p !== before ? p : null; },
                                    `${name} started again`, 30000);
        assert.notEqual(after, before);
        const [, init] = await waitFor(answers, `the desktop behind websockify after ${name} died`, 60000);
        assert.deepEqual(init, { width: 1600, height: 900, name: 'axon session ' });
    }
    // XFCE came back on the new display
    await waitFor(() => /xfce4-session/.test(exec('ps', '-eo', 'comm').stdout), 'XFCE started again', 60000);
    const log = spawnSync('podman', ['logs', single], { env: penv });
    // Debian's supervisor, PID 1, said so
    assert.match(log.stderr.toString() + log.stdout.toString(), /exited: Xvnc \((exit status \d+|terminated by SIGKILL); not expected\)/);
    assert.match(exec('ps', '-o', 'comm=', '-p', '1').stdout.toString(), /supervisord/);
});

test('no GPU: OpenGL on the desktop is Mesa\'s software renderer (llvmpipe), and it draws', { skip }, async () => {
    assert.notEqual(spawnSync('podman', ['exec', session.name, 'ls', '/dev/dri'], { env: penv }).status, 0,
                    'no GPU device in the container');
    const probe = spawnSync('podman', ['exec', '-i', session.name, 'runuser', '-u', 'aXonian', '--',
                                       'env', 'DISPLAY=:1', 'python3', '-'],
                            { env: penv, input: readFileSync(join(ROOT, 't/js/glx-probe.py')) });
    assert.equal(probe.status, 0, probe.stderr.toString());
    const gl = JSON.parse(probe.stdout);
    assert.match(gl.renderer, /^llvmpipe/);
    assert.match(gl.version, /Mesa/);
    assert.deepEqual(gl.pixel, [255, 128, 0, 255], 'the cleared colour read back');
});

// The home is the wallet's volume, kept between sessions, and the user's:
// a link left at ~/.vncpasswd (to /etc/shadow) must not have the next
// session's entrypoint, which runs as root, write the password file into
// /etc/shadow and chown it to aXonian (root's password theirs)
test('a link left at ~/.vncpasswd reaches nothing of root\'s in the next session', { skip }, async () => {
    const exec = (user, cmd) => spawnSync('podman', ['exec', ...(user ? ['--user', user] : []), session.name,
                                                     'sh', '-c', cmd], { env: penv });
    const plant = exec('aXonian', 'rm -f ~/.vncpasswd && ln -s /etc/shadow ~/.vncpasswd');
    assert.equal(plant.status, 0, plant.stderr.toString());
    await run(join(BUILD, 'axon-launch'), ['-c', cfg, 'stop', String(id)], { env: penv });
    const r = await run(join(BUILD, 'axon-launch'), ['-c', cfg, 'start', String(id), wallet],
        { env: { ...penv, AXON_VNC_PASSWORD: 's3cret12' } });
    session = JSON.parse(r.stdout);
    assert.equal(exec(null, 'stat -c %U /etc/shadow').stdout.toString().trim(), 'root');
    assert.equal(exec(null, 'stat -c "%F %U %a" /home/aXonian/.vncpasswd').stdout.toString().trim(),
                 'regular file aXonian 600');
    // and the desktop asks for its password as ever
    const types = await waitFor(() => rfbTypes(`ws://127.0.0.1:${session.port}/websockify`).catch(() => null),
                                'the VNC server behind websockify', 60000);
    assert.deepEqual(types, [2], 'VNC authentication');
});

// the security types an RFB 3.8 server offers over websockify
async function rfbTypes(url) {
    const ws = new WebSocket(url, ['binary']);
    let buf = Buffer.alloc(0);
    ws.on('message', m => { buf = Buffer.concat([buf, Buffer.from(m)]); });
    try {
        await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
        await waitFor(() => buf.length >= 12, 'the RFB version');
        ws.send(Buffer.from('RFB 003.008\n'));
        await waitFor(() => buf.length >= 13 && buf.length >= 13 + buf[12], 'the security types');
        return [...buf.subarray(13, 13 + buf[12])];
    } finally {
        ws.close();
    }
}
