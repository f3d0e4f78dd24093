// The desktop image (issue 7), when it has been built: it is large and built
// on demand only (scripts/session-image desktop), so this file skips itself
// unless build/images/desktop.ref names an image in the store.  Launched
// through build/axon-launch like any session; reached on 127.0.0.1 only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { BUILD } from './lib/stack.mjs';
import { sessionImage, CONTAINERS_CONF, penv } from './lib/images.mjs';

const run = promisify(execFile);
const { ref: image, skip } = sessionImage('desktop');

const id = 910000000 + (process.pid % 100000) * 100;
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
    ].join('\n') + '\n');
    const r = await run(join(BUILD, 'axon-launch'), ['-c', cfg, 'start', String(id), '0x00000000000000000000000000000000000000dd'],
        { env: { ...penv, AXON_VNC_PASSWORD: 's3cret12' } });
    session = JSON.parse(r.stdout);
});

after(async () => {
    if (skip) return;
    spawnSync('podman', ['rm', '-f', '-t', '0', `axgt-session-${id}`], { env: penv });
    rmSync(dir, { recursive: true, force: true });
});

test('the desktop serves the noVNC client', { skip }, async () => {
    const res = await fetch(`http://127.0.0.1:${session.port}/vnc.html`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /noVNC/);
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
