// Home volumes end to end: each wallet's home directory is a named volume
// (PREFIX + home- + address) mounted at /home/aXonian in each of its
// sessions, desktop and SSH alike; kept home_keep after its last session
// (a sweep removes it later, every home_keep / 4, never while the wallet has a
// live session), shown as home_kept_until by GET /api/me, and removed by
// the admin job home.delete.  Real nginx, worker, Postgres, Redis and
// podman with the test image (and the SSH image, when built).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { podman, sessionImage } from './lib/images.mjs';

const KEEP = 10;        // seconds: home_keep

const s = new Stack({
    sessions: true,
    workerConf: [
        'gpu_hosts local=0,1,2,3',
        'profiles "small:1:1"',
        'session_grace 0',
        `home_keep ${KEEP}s`,
        'reconcile_interval 1s',
        'launcher_timeout 20s',
        'launcher_ready_timeout 20s',
    ].join('\n'),
});

const ssh = sessionImage('ssh');
const keys = mkdtempSync(join(tmpdir(), 'axon-home-'));
let prefix;

before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
});
after(async () => {
    rmSync(keys, { recursive: true, force: true });
    await s.stop();
    // s.stop() removes the stack's volumes: none is left
    assert.deepEqual(homes(), []);
});

const home = u => `${prefix}home-${u.addr}`;
const homes = () => podman('volume', 'ls', '-q').out.split('\n')
    .filter(n => n.startsWith(`${prefix}home-`));
const exists = u => podman('volume', 'exists', home(u)).ok;

// a command in the session's container, as the images' user (uid 1000)
const exec = (u, cmd) => podman('exec', '--user', '1000', `${prefix}${u.id}`, 'sh', '-c', cmd);

const api = (path, u, method = 'GET', body) => s.json(path, {
    method,
    headers: { authorization: `Bearer ${u.token}`,
               ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
});

let refs = 0;
async function user() {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
            'minutes', '100', 'ref', `home-${process.pid}-${++refs}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '100', 'the grant');
    return { token, addr };
}

async function claim(u, body = { profile: 'small' }) {
    const r = await api('/api/session', u, 'POST', body);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    u.id = r.body.session_id;
    await waitFor(async () => (await api('/api/session', u)).body.status === 'running',
                  `session ${u.id} running`, 90000);
}

async function release(u) {
    assert.equal((await api('/api/release', u, 'POST')).status, 202);
    await waitFor(() => s.sql(`SELECT state FROM sessions WHERE id = ${u.id}`) === 'ended'
                        && !podman('container', 'exists', `${prefix}${u.id}`).ok,
                  `session ${u.id} ended, its container gone`);
}

const homeUntil = u => s.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'home_until');

function dead(what) {
    return waitFor(() => {
        const d = s.redis('--raw', 'XRANGE', 'axon:jobs:dead', '-', '+');
        return d.includes(what) ? d : null;
    }, `a dead letter with ${what}`);
}

let a, b;

test('a wallet finds its files in its next session; another wallet has its own home', async () => {
    a = await user();
    b = await user();
    await claim(a);
    await claim(b);

    // a fresh volume holds the image's home, owned by its user
    assert.equal(exec(a, 'stat -c %u:%g /home/aXonian').out, '1000:1000');
    const w = exec(a, 'echo "files of a" > /home/aXonian/note && id -u');
    assert.ok(w.ok, w.err);
    assert.equal(w.out, '1000');
    assert.equal(exec(b, 'cat /home/aXonian/note').ok, false, "b does not see a's file");
    assert.ok(exec(b, 'touch /home/aXonian/b-was-here').ok);

    // labelled with its wallet and its stack, for the sweep and for cleanup
    const labels = JSON.parse(podman('volume', 'inspect', '--format', '{{json .Labels}}', home(a)).out);
    assert.equal(labels['axon.home'], a.addr);
    assert.equal(labels['axon.stack'], s.dir);
    assert.match(podman('inspect', '--format', '{{json .Mounts}}', `${prefix}${a.id}`).out,
                 new RegExp(`"Name":"${home(a)}".*"Destination":"/home/aXonian"`));

    // no home_kept_until while a session runs
    assert.equal((await api('/api/me', a)).body.home_kept_until, undefined);

    await release(a);
    const ended = Number(s.sql(`SELECT ceil(extract(epoch FROM ended_at)) FROM sessions WHERE id = ${a.id}`));
    await waitFor(() => homeUntil(a) !== '', 'home_until published');
    assert.equal(Number(homeUntil(a)), ended + KEEP);
    const me = await api('/api/me', a);
    assert.equal(me.status, 200);
    assert.equal(me.body.home_kept_until, ended + KEEP);
    assert.equal(me.body.balance_minutes, Number(s.redis('--raw', 'HGET', `axon:wallet:${a.addr}`, 'balance')));

    await claim(a);
    assert.equal(exec(a, 'cat /home/aXonian/note').out, 'files of a');
    assert.equal(exec(a, 'stat -c %u /home/aXonian/note').out, '1000');
    assert.equal(exec(a, 'test -e /home/aXonian/b-was-here').ok, false);
    // live again: its launch takes the date away
    assert.equal(homeUntil(a), '', 'no home_until while a runs');
});

test('home.delete: refused while the wallet has a live session, then removes its home', async () => {
    // a runs (the test above)
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'home.delete', 'wallet', a.addr, 'reason', 'asked first');
    await dead(`refused: ${a.addr} has a live session (${a.id}, running)`);
    assert.ok(exists(a));
    assert.equal(exec(a, 'cat /home/aXonian/note').out, 'files of a');

    await release(a);
    await waitFor(() => homeUntil(a) !== '', 'home_until published');
    // any case of the address is the same wallet
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'home.delete', 'wallet', a.addr.toUpperCase().replace('0X', '0x'),
            'reason', 'the user asked');
    await waitFor(() => !exists(a), 'the volume removed');
    await waitFor(() => homeUntil(a) === '', 'home_until removed');
    assert.equal((await api('/api/me', a)).body.home_kept_until, undefined);
    await waitFor(() => s.sql(`SELECT count(*) FROM audit_log WHERE action = 'home.delete' AND subject = 'wallet:${a.addr}'`) === '1',
                  'the audit row');
    assert.match(s.sql(`SELECT detail->>'reason' || ' ' || (detail->>'volume') FROM audit_log WHERE action = 'home.delete' AND subject = 'wallet:${a.addr}'`),
                 new RegExp(`^the user asked ${home(a)}$`));
    assert.match(s.log('worker.log'), new RegExp(`home: removed ${home(a)}, the home of ${a.addr} \\(home.delete: the user asked\\)`));

    // a bad address is refused before anything
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'home.delete', 'wallet', '0x1234', 'reason', 'x');
    await dead('field "wallet": "0x1234" is not an address');
});

test('the sweep removes a home past home_keep, never the home of a wallet with a live session', async () => {
    // b's last session ends first, then it claims again and runs
    await release(b);
    await claim(b);
    assert.ok(exec(b, 'test -e /home/aXonian/b-was-here').ok);

    // c's ends later: once c's home is swept, b's time is past too
    const c = await user();
    await claim(c);
    await release(c);
    assert.ok(exists(c));
    await waitFor(() => !exists(c), `${home(c)} swept after ${KEEP}s`, 90000);
    const since = Date.now() / 1000 - Number(s.sql(`SELECT extract(epoch FROM ended_at) FROM sessions WHERE id = ${c.id}`));
    assert.ok(since >= KEEP, `removed ${since}s after the end, not before ${KEEP}s`);
    assert.match(s.log('worker.log'), new RegExp(`notice.*home: removed ${home(c)}, the home of ${c.addr}: its last session ended at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, more than home_keep \\(10s\\) ago`));
    await waitFor(() => homeUntil(c) === '', 'home_until removed with it');

    assert.ok(exists(b), "b's home is kept: b runs");
    assert.ok(exec(b, 'test -e /home/aXonian/b-was-here').ok);
    await release(b);
});

test('an SSH session mounts the same home as a desktop session', { skip: ssh.skip }, async () => {
    const d = await user();
    await claim(d);
    assert.ok(exec(d, 'echo "from the desktop" > /home/aXonian/note').ok);
    await release(d);

    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'home', '-f', join(keys, 'k')]);
    const key = readFileSync(join(keys, 'k.pub'), 'utf8').trim();
    await claim(d, { profile: 'small', mode: 'ssh', ssh_public_key: key });
    assert.match(podman('inspect', '--format', '{{.ImageName}}', `${prefix}${d.id}`).out, /axon-session-ssh/);
    assert.equal(exec(d, 'cat /home/aXonian/note').out, 'from the desktop');
    // the SSH image's entrypoint wrote the key into the same home
    assert.equal(exec(d, 'cat /home/aXonian/.ssh/authorized_keys').out, key);
    await release(d);
});

// The home is the user's: what a session leaves there (links, a FIFO)
// must not make the next session's entrypoint, which runs as root, write
// or chown what they name (a link at authorized_keys to /etc/shadow: the
// key written into it, the file handed to aXonian, root's password theirs)
test("what a session leaves in its home reaches nothing of root's in the next one", { skip: ssh.skip }, async () => {
    const f = await user();
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'left', '-f', join(keys, 'left')]);
    const key = readFileSync(join(keys, 'left.pub'), 'utf8').trim();
    const body = { profile: 'small', mode: 'ssh', ssh_public_key: key };
    const traps = [
        ['a link at authorized_keys to /etc/shadow', 'rm -rf ~/.ssh/authorized_keys && ln -s /etc/shadow ~/.ssh/authorized_keys'],
        ['a link at .ssh to /etc', 'rm -rf ~/.ssh && ln -s /etc ~/.ssh'],
        ['a FIFO at authorized_keys', 'rm -rf ~/.ssh && mkdir ~/.ssh && mkfifo ~/.ssh/authorized_keys'],
    ];
    await claim(f, body);
    for (const [what, plant] of traps) {
        const p = exec(f, `cd /home/aXonian && ${plant}`);
        assert.ok(p.ok, `${what}: ${p.err}`);
        await release(f);
        await claim(f, body);       // running: the entrypoint did not block
        assert.equal(exec(f, 'stat -c %U /etc/shadow /etc').out, 'root\nroot', what);
        assert.equal(exec(f, 'stat -c "%F %U %a" /home/aXonian/.ssh /home/aXonian/.ssh/authorized_keys').out,
                     'directory aXonian 700\nregular file aXonian 600', what);
        assert.equal(exec(f, 'cat /home/aXonian/.ssh/authorized_keys').out, key, what);
    }
    await release(f);
});

test('GET /api/me leaves out a home_until it cannot read, and still answers', async () => {
    const e = await user();
    s.redis('HSET', `axon:wallet:${e.addr}`, 'home_until', 'soon');
    const me = await api('/api/me', e);
    assert.equal(me.status, 200);
    assert.equal(me.body.balance_minutes, 100);
    assert.equal('home_kept_until' in me.body, false);
    s.redis('HSET', `axon:wallet:${e.addr}`, 'home_until', '1800000000');
    assert.equal((await api('/api/me', e)).body.home_kept_until, 1800000000);
});
