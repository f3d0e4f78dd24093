// SSH sessions end to end: a claim in SSH mode with a fresh ed25519 key,
// the worker launches the test image's sshd (dropbear) with that key as
// the only one, and a real `ssh` runs a command there; another key is
// refused; release closes it.  Real nginx, worker, Postgres, Redis, podman.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

const s = new Stack({
    sessions: true,
    workerConf: ['gpu_hosts local=0,1', 'profiles "small:1:1"', 'billing_minute 2s',
                 'billing_tick 200ms', 'launcher_timeout 20s', 'launcher_ready_timeout 20s'].join('\n'),
});
const keys = mkdtempSync(join(tmpdir(), 'axon-ssh-'));
before(() => s.start());
after(async () => {
    rmSync(keys, { recursive: true, force: true });
    await s.stop();
});

function keygen(name) {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(keys, name)]);
    return readFileSync(join(keys, `${name}.pub`), 'utf8').trim();
}

function ssh(key, port, user, cmd) {
    const r = spawnSync('ssh', ['-i', join(keys, key), '-p', String(port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${user}@127.0.0.1`, cmd], { timeout: 20000 });
    return { code: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

test('claim in SSH mode: ssh in with the key runs a command; another key is refused; release closes it', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const auth = { authorization: `Bearer ${token}` };
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', w.address, 'minutes', '100', 'ref', `ssh-${w.address}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${w.address.toLowerCase()}`, 'balance') === '100', 'the grant');

    const pub = keygen('mine');
    keygen('other');
    const claim = await s.json('/api/session', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: 'small', mode: 'ssh', ssh_public_key: pub }) });
    assert.equal(claim.status, 202, JSON.stringify(claim.body));

    const st = await waitFor(async () => {
        const r = await s.json('/api/session', { headers: auth });
        return r.body.status === 'running' && r.body;
    }, 'the SSH session running', 60000);
    assert.equal(st.mode, 'ssh');
    assert.equal(st.connect.host, '127.0.0.1');
    assert.equal(st.connect.user, 'aXonian');
    const port = Number(st.connect.port);
    assert.ok(port > 0);
    assert.equal(st.connect.path, undefined, 'no desktop path for an SSH session');

    const ok = ssh('mine', port, st.connect.user, 'echo ok');
    assert.equal(ok.out, 'ok', ok.err);
    const refused = ssh('other', port, st.connect.user, 'echo ok');
    assert.notEqual(refused.code, 0, 'another key is refused');

    const rel = await s.json('/api/release', { method: 'POST', headers: auth });
    assert.equal(rel.status, 202);
    await waitFor(async () => (await s.json('/api/session', { headers: auth })).body.status === 'ended', 'ended', 30000);
    assert.notEqual(ssh('mine', port, 'aXonian', 'echo ok').code, 0, 'the port is closed after release');
});
