// GPU work counts as activity: a desktop nobody watches (no heartbeat, no
// traffic) whose GPUs read busy is kept past session_idle_timeout, and
// ended once they read idle.  No GPU here: the test image's nvidia-smi is
// a stand-in printing an H200's output, idle, or busy (100 %) while
// /etc/axon-gpu-busy exists in the container; the worker reads it with
// `podman exec` (gpu_activity nvidia-smi).  gpu_hosts names the GPUs by
// UUID, which is what the container is given.  The parsers themselves:
// t/unit/test_gpu_activity.c.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';
import { podman } from './lib/images.mjs';

const IDLE = 4000;
const UUIDS = ['GPU-366db770-2957-4105-20b5-59227776f17a',
               'GPU-00000000-0000-0000-0000-000000000001'];

const s = new Stack({
    sessions: true,
    workerConf: [
        // UUIDs: the container's AXON_GPUS names its GPU by UUID
        `gpu_hosts local=${UUIDS.join(',')}`,
        'profiles "small:1:1"',
        'billing_minute 2s',
        'billing_tick 200ms',
        `session_idle_timeout ${IDLE}ms`,
        'session_grace 3s',
        'gpu_activity nvidia-smi',
        'gpu_busy_threshold 50',
        'launcher_timeout 20s',
        'launcher_ready_timeout 20s',
        'ssh_sessions off',
    ].join('\n'),
});

let prefix;
before(async () => {
    await s.start();
    prefix = `axgt-${basename(s.dir)}-`;
});
after(() => s.stop());

const until = (u, want, ms = 90000) => waitFor(async () => {
    const st = (await s.api('/api/session', u.token)).body;
    return st.status === want ? st : null;
}, `session ${want}`, ms);

// the worker's busy readings of session id so far
const readings = id => s.log('worker.log').split('\n')
    .filter(l => l.includes(`session ${id}: GPUs local=`) && l.includes('busy: counted as activity'))
    .length;

test('busy GPUs keep an unwatched desktop past the idle timeout; idle ones end it', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const addr = w.address.toLowerCase();
    s.redis('XADD', 'axon:jobs', '*', 'kind', 'credit.grant', 'wallet', addr,
            'minutes', '100', 'ref', `t-gpu-${process.pid}`);
    await waitFor(() => s.redis('--raw', 'HGET', `axon:wallet:${addr}`, 'balance') === '100', 'the grant');

    const u = { token };
    const r = await s.api('/api/session', token, 'POST', { profile: 'small' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.session_id;
    const name = `${prefix}${id}`;

    // busy before the first reading: half the idle timeout after the start
    await waitFor(() => podman('exec', name, 'touch', '/etc/axon-gpu-busy').ok, 'GPU set busy', 60000);
    const running = await until(u, 'running');
    const started = Date.now();
    // the test image's /etc/axon-session has the environment's AXON_GPUS
    const env = podman('exec', name, 'cat', '/etc/axon-session').out;
    assert.match(env, new RegExp(`^gpus=(${UUIDS.join('|')})$`, 'm'), env);
    const slot = s.sql(`SELECT gpu_index FROM gpu_assignments WHERE session_id = ${id}`);
    assert.ok(env.includes(`gpus=${UUIDS[Number(slot)]}`), `slot ${slot}: ${env}`);

    // past the idle timeout with no heartbeat, and read busy meanwhile,
    // half the idle timeout apart (the first may precede `started`)
    const first = readings(id);
    await waitFor(() => Date.now() - started > IDLE + 2000 && readings(id) >= first + 2,
                  'busy readings past the idle timeout', 30000);
    const st = (await s.api('/api/session', token)).body;
    assert.equal(st.status, 'running', JSON.stringify(st));
    assert.equal(st.session_id ?? running.session_id, running.session_id);
    const at = Number(s.redis('--raw', 'HGET', `axon:session:${id}`, 'gpu'));
    assert.ok(Math.abs(at - Date.now() / 1000) < IDLE / 1000 + 2, `gpu reading at ${at}`);

    // idle GPUs: ended as idle, and no busy reading after the switch
    assert.ok(podman('exec', name, 'rm', '/etc/axon-gpu-busy').ok);
    const n = readings(id);
    const ended = await until(u, 'ended', 30000);
    assert.equal(ended.end_reason, 'idle');
    assert.ok(readings(id) <= n + 1, 'at most one reading raced the switch');
    await waitFor(() => !podman('ps', '-a', '--format', '{{.Names}}').out.split('\n').includes(name),
                  'container removed');
});
