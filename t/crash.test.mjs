// Crash safety of the queue: 10,000 grants, the worker killed with SIGKILL
// several times while it runs them, restarted: every job ends done, the
// ledger has each grant once and sums to the grants.  Then two workers on
// one queue: the same, and no job run by both.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

const N = 10000;
const s = new Stack({
    workerConf: [
        // the killed worker's consumer name dies with it (hostname:pid):
        // its pending jobs are reclaimed after job_claim_idle
        'job_claim_idle 1s',
        'job_retry_min 50ms',
        'job_retry_max 500ms',
        'log_level notice',
    ].join('\n'),
});
before(() => s.start());
after(() => s.stop());

const wallets = Array.from({ length: 50 }, () => Wallet.createRandom().address);
const raw = (...args) => s.redis('--raw', ...args);

// waits until the queue is empty; if it is not in time, says what is left
async function drained(what) {
    try {
        await waitFor(() => s.jobsDone(), what, 120000);
    } catch (e) {
        e.message += `\nXLEN ${s.jobs().queued}\nXPENDING ${raw('XPENDING', 'axon:jobs', 'axon-workers')}` +
            `\nXINFO CONSUMERS ${raw('XINFO', 'CONSUMERS', 'axon:jobs', 'axon-workers')}` +
            `\nXINFO GROUPS ${raw('XINFO', 'GROUPS', 'axon:jobs')}` +
            `\nworker.log tail:\n${s.log('worker.log').split('\n').slice(-15).join('\n')}` +
            `\nworker-2.log tail:\n${s.log('worker-2.log').split('\n').slice(-15).join('\n')}`;
        throw e;
    }
}

// N grants over the wallets, refs PREFIX-i: their ids and the expected sums
function enqueue(prefix) {
    const lines = [];
    const per = new Map();
    let total = 0;
    for (let i = 0; i < N; i++) {
        const w = wallets[i % wallets.length];
        const m = 1 + ((i * 7919) % 100);
        total += m;
        per.set(w, (per.get(w) || 0) + m);
        lines.push(`XADD axon:jobs * kind credit.grant wallet ${w} minutes ${m} ref ${prefix}-${i}`);
    }
    const ids = s.redisPipe(lines);
    assert.equal(ids.length, N);
    for (const id of ids) assert.match(id, /^\d+-\d+$/);
    return { ids, total, per };
}

function balances() {
    const m = new Map();
    for (const row of s.sql('SELECT wallet, balance_minutes FROM wallet_balance_v').split('\n')) {
        const [w, b] = row.split('|');
        m.set(w, Number(b));
    }
    return m;
}

function checkAll(prefix, { ids, total, per }, before) {
    assert.equal(s.sql(`SELECT count(*) || ' ' || count(DISTINCT reference) || ' ' || sum(delta_minutes)
                      FROM credit_ledger WHERE reference LIKE '${prefix}-%'`),
                 `${N} ${N} ${total}`, 'each grant once in the ledger, the sum of the grants');
    const after = balances();
    for (const [w, m] of per) {
        const lw = w.toLowerCase();
        assert.equal(after.get(lw), (before.get(lw) || 0) + m, `balance of ${lw}`);
        assert.equal(Number(raw('HGET', `axon:wallet:${lw}`, 'balance')), after.get(lw), `redis balance of ${lw}`);
    }
    const states = s.redisPipe(ids.map(id => `HGET axon:job:${id} state`));
    const notDone = ids.filter((id, i) => states[i] !== 'done');
    assert.deepEqual(notDone, [], 'every job done');
    assert.deepEqual(s.jobs(), { queued: 0, taken: 0 });
    assert.equal(raw('XLEN', 'axon:jobs:dead'), '0');
}

test(`${N} grants, the worker killed -9 four times while it runs them: each done once`, async () => {
    await s.stack('stop', 'worker');
    const before = balances();
    const q = enqueue('crash');
    await s.stack('start', 'worker');

    for (let k = 0; k < 4; k++) {
        const left = s.jobs().queued;
        await waitFor(() => { const q = s.jobs().queued; return q <= left - 1000 || q === 0; }, 'progress', 60000);
        const pid = s.pid('worker');
        process.kill(pid, 'SIGKILL');
        await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the kill');
        await s.stack('start', 'worker');
    }

    await drained('every job finished');
    checkAll('crash', q, before);
    assert.match(s.log('worker.log'), /queue: claimed \d+ jobs left idle for more than 1s/);
});

test('two workers on one queue: each job done once, by one worker', async () => {
    await s.stack('stop', 'worker');
    const before = balances();
    const q = enqueue('two');
    const start = s.log('worker.log').length;
    // no worker dies here: a claim would only come from a slow machine
    s.env.AXON_WORKER_CONF = s.env.AXON_WORKER_CONF.replace('job_claim_idle 1s', 'job_claim_idle 1m');
    await Promise.all([s.stack('start', 'worker'), s.stack('start', 'worker', '2')]);
    await drained('every job finished');
    checkAll('two', q, before);

    // who ran what: the job's worker, from its state, and the worker's own
    // counters; no job was delivered to both (no claims, no retries)
    const workers = s.redisPipe(q.ids.map(id => `HGET axon:job:${id} worker`));
    const attempts = s.redisPipe(q.ids.map(id => `HGET axon:job:${id} attempts`));
    const by = new Map();
    for (const w of workers) by.set(w, (by.get(w) || 0) + 1);
    assert.equal(by.size, 2, `both workers ran jobs: ${[...by].join(', ')}`);
    const twice = q.ids.filter((id, i) => attempts[i] !== '1');
    assert.deepEqual(twice, [], 'each job taken once');
    await s.stack('stop', 'worker', '2');
    const logs = s.log('worker.log').slice(start) + s.log('worker-2.log');
    assert.doesNotMatch(logs, /queue: claimed \d+ jobs/);
});

test('job_max_attempts 1, the worker killed -9 in a batch of new jobs: every job runs, none is given up', async () => {
    // a batch of new jobs is marked running at once, counting no attempt:
    // which one was running is not known, and counted for all, the kill
    // gave up every job of the batch after the one running, never run
    await s.stack('stop', 'worker');
    s.env.AXON_WORKER_CONF = s.env.AXON_WORKER_CONF.replace('job_claim_idle 1m', 'job_claim_idle 1s')
        + '\njob_max_attempts 1';
    const w = wallets[0].toLowerCase();
    const lines = [];
    for (let i = 0; i < 2000; i++) lines.push(`XADD axon:jobs * kind credit.grant wallet ${w} minutes 1 ref once-${i}`);
    const ids = s.redisPipe(lines);
    await s.stack('start', 'worker');
    await waitFor(() => Number(s.sql("SELECT count(*) FROM credit_ledger WHERE reference LIKE 'once-%'")) >= 300,
                  'grants running', 60000);
    const pid = s.pid('worker');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the kill');
    await s.stack('start', 'worker');
    await drained('every job finished');

    const states = s.redisPipe(ids.map(id => `HGET axon:job:${id} state`));
    const dead = ids.filter((id, i) => states[i] === 'dead');
    assert.deepEqual(dead.map(id => raw('HGET', `axon:job:${id}`, 'error')).slice(0, 3), [],
                     `${dead.length} jobs given up for one kill`);
    assert.deepEqual(ids.filter((id, i) => states[i] !== 'done'), [], 'every job done');
    assert.equal(s.sql("SELECT count(*) || ' ' || count(DISTINCT reference) FROM credit_ledger WHERE reference LIKE 'once-%'"),
                 '2000 2000', 'each grant once');
    // the attempts each job's outcome counted: 1, or 2 for those the kill
    // cut short (run again after it)
    const attempts = s.redisPipe(ids.map(id => `HGET axon:job:${id} attempts`));
    assert.deepEqual([...new Set(attempts)].filter(a => a !== '1' && a !== '2'), []);
});
