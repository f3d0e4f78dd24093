// The science layer over real ssh: an SSH session launched from the ssh
// image (images/ssh with images/layers/science) has python3 with numpy,
// scipy and torch, GROMACS's gmx, and OpenCL with pocl, so that clinfo
// lists a device on a host without a GPU.  The image's environment carries
// the NVIDIA container toolkit's variables.  Needs the ssh image: skips,
// saying how to build it, when the store lacks it (a cold build takes
// minutes: see the README's images).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { podman, sessionImage } from './lib/images.mjs';

const image = sessionImage('ssh');

const s = new Stack({
    sessions: true,
    workerConf: ['gpu_hosts local=0', 'profiles "small:1:1"', 'billing_minute 2s',
                 'session_grace 4s', 'billing_tick 200ms', 'launcher_timeout 20s',
                 'launcher_ready_timeout 30s'].join('\n'),
});
const keys = mkdtempSync(join(tmpdir(), 'axon-science-'));
before(async () => { if (!image.skip) await s.start(); });
after(async () => {
    rmSync(keys, { recursive: true, force: true });
    if (!image.skip) await s.stop();
});

function ssh(port, cmd) {
    const r = spawnSync('ssh', ['-i', join(keys, 'k'), '-p', String(port), '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes',
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', 'aXonian@127.0.0.1', cmd], { timeout: 120000 });
    return { code: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

test('over ssh: python3 imports numpy, scipy and torch; gmx runs; clinfo lists a device', { skip: image.skip }, async () => {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'k', '-f', join(keys, 'k')]);
    const pub = readFileSync(join(keys, 'k.pub'), 'utf8').trim();
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    const auth = { authorization: `Bearer ${token}` };
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr, 'minutes', '100',
            'ref', `science-${process.pid}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '100', 'the grant');
    const r = await s.json('/api/session', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: 'small', mode: 'ssh', ssh_public_key: pub }) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.session_id;
    const st = await waitFor(async () => {
        const b = (await s.json('/api/session', { headers: auth })).body;
        return b.status === 'running' && b;
    }, `session ${id} running`, 90000);
    const port = Number(st.connect.port);
    const name = `axgt-${basename(s.dir)}-${id}`;
    assert.equal(podman('inspect', '--format', '{{.ImageName}}', name).out, image.ref.replace(/^(?!localhost\/)/, 'localhost/'));

    const py = ssh(port, "python3 -c 'import numpy, scipy, torch; print(numpy.__version__, scipy.__version__, torch.__version__, torch.ones(2, 2).sum().item())'");
    assert.equal(py.code, 0, py.err);
    assert.match(py.out, /^\d+\.\d+\.\d+ \d+\.\d+\.\d+ \d+\.\d+\.\d+\S* 4\.0$/, py.out);

    const gmx = ssh(port, 'gmx --version');
    assert.equal(gmx.code, 0, gmx.err);
    assert.match(gmx.out, /GROMACS version:\s+20\d\d/, gmx.out);

    // pocl: the host's CPU as an OpenCL device, with no GPU at all
    const cl = ssh(port, 'clinfo');
    assert.equal(cl.code, 0, cl.err);
    assert.match(cl.out, /Number of devices\s+[1-9]/, cl.out);
    assert.match(cl.out, /Platform Name\s+Portable Computing Language/, cl.out);

    // the toolkit's variables, from the image: every capability, no GPU
    // unless the launcher names some (the tests' launcher_gpu_args do not)
    const env = podman('exec', name, 'printenv', 'NVIDIA_DRIVER_CAPABILITIES', 'NVIDIA_VISIBLE_DEVICES');
    assert.equal(env.out, 'compute,utility,graphics\nvoid', env.err);

    const rel = await s.json('/api/release', { method: 'POST', headers: auth });
    assert.equal(rel.status, 202, JSON.stringify(rel.body));
    await waitFor(() => s.psql(`SELECT state FROM sessions WHERE id = ${id}`).out === 'ended', 'ended', 40000);
});
