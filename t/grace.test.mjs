// Every GPU-minute a session runs is paid: the grace at
// zero balance is billed from a reserve the claim must hold.  Real nginx,
// worker, Postgres, Redis and podman with the test image; minutes of 2 s,
// a grace of 6 s: 3 minutes, so a claim needs (1 + 3) x gpus x price.
//
// What a wallet got is read from the sessions table: a session runs from
// started_at until billing stopped (stop_at: the release, the end of the
// grace, ...); after that the gate no longer routes to it and the worker
// stops its container.  Its GPU-minutes are gpus x the minutes begun in
// that window.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Stack, waitFor } from './lib/stack.mjs';

const MINUTE = 2000;
const GRACE = 3;                        // session_grace 6s, in minutes

const s = new Stack({
    sessions: true,
    workerConf: [
        'gpu_hosts local=0,1,2,3',
        'profiles "small:1:1 duo:2:1"',
        `billing_minute ${MINUTE / 1000}s`,
        'billing_tick 200ms',
        'session_idle_timeout 0',
        `session_grace ${GRACE * MINUTE / 1000}s`,
        'reconcile_interval 1s',
        'launcher_timeout 20s',
        'launcher_ready_timeout 20s',
        'ssh_sessions off',
    ].join('\n'),
});

before(() => s.start());
after(() => s.stop());

// credit.grant (or credit.revoke) by an admin, until its ledger row is in;
// u.granted: the wallet's net credit minutes
let refs = 0;
async function grant(u, minutes, kind = 'grant') {
    const ref = `g-${process.pid}-${++refs}`;
    s.redis('XADD', 'axon:jobs', '*', 'kind', `credit.${kind}`, 'wallet', u.addr,
            'minutes', String(minutes), 'ref', ref, ...(kind === 'revoke' ? ['reason', 'a test'] : []));
    await waitFor(() => s.sql(`SELECT count(*) FROM credit_ledger WHERE idempotency_key = '${kind}:${ref}'`) === '1',
                  `the ${kind}`);
    u.granted += kind === 'revoke' ? -minutes : minutes;
}

const balance = u => Number(s.sql(`SELECT coalesce((SELECT balance FROM wallet_balances WHERE wallet = '${u.addr}'), 0)`));

async function user() {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    return { w, token, addr: w.address.toLowerCase(), granted: 0 };
}

const claim = (u, profile = 'small') => s.api('/api/session', u.token, 'POST', { profile });
const status = async u => (await s.api('/api/session', u.token)).body;
const until = (u, want, ms = 40000) => waitFor(async () => {
    const st = await status(u);
    return st.status === want ? st : null;
}, `session of ${u.addr} ${want}`, ms);

async function claimed(u, profile) {
    const r = await claim(u, profile);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.session_id;
}

// the wallet's sessions: the GPU-minutes each ran (begun between started_at
// and stop_at) and the ones billed
function usage(u) {
    const rows = s.sql(`SELECT s.id, s.gpu_count, s.billed_minutes,
                             ceil(extract(epoch FROM s.stop_at - s.started_at) * 1000 / ${MINUTE})::bigint,
                             coalesce((SELECT -sum(l.delta_minutes) FROM credit_ledger l
                                        WHERE l.reference = 'session:' || s.id AND l.kind = 'usage'), 0)
                        FROM sessions s
                       WHERE s.wallet = '${u.addr}' AND s.started_at IS NOT NULL
                       ORDER BY s.id`);
    return rows.split('\n').filter(Boolean).map(l => {
        const [id, gpus, billed, ran, debited] = l.split('|').map(Number);
        return { id, gpus, billed, ran, debited };
    });
}

function assertPaid(u) {
    const all = usage(u);
    let ran = 0, debited = 0;
    for (const x of all) {
        assert.ok(x.ran <= x.billed, `session ${x.id} ran ${x.ran} minutes, billed ${x.billed}`);
        assert.equal(x.debited, x.billed * x.gpus, `session ${x.id}: the ledger has its minutes`);
        ran += x.ran * x.gpus;
        debited += x.debited;
    }
    assert.ok(ran <= u.granted, `${ran} GPU-minutes run for ${u.granted} granted`);
    assert.equal(balance(u), u.granted - debited, 'balance = grants - the session debits');
    const keys = s.sql(`SELECT count(*) - count(DISTINCT idempotency_key) FROM credit_ledger WHERE wallet = '${u.addr}'`);
    assert.equal(keys, '0');
    return { ran, debited, sessions: all.length };
}

test('a claim must hold the first minute and the grace: 402 names what is needed, nothing queued', async () => {
    const u = await user();
    await grant(u, GRACE);
    const next = s.redis('--raw', 'GET', 'axon:session:next');
    const r = await claim(u);
    assert.equal(r.status, 402);
    assert.equal(r.body.error.code, 'insufficient_credits');
    assert.equal(r.body.error.balance_minutes, GRACE);
    assert.equal(r.body.error.needed_minutes, 1 + GRACE);
    assert.equal(r.body.error.grace_minutes, GRACE);
    assert.match(r.body.error.message, /first minute and the grace/);
    assert.equal(s.redis('--raw', 'GET', 'axon:session:next'), next, 'no session id taken');
    assert.equal(s.redis('--raw', 'HGET', `axon:wallet:${u.addr}`, 'session'), '');

    const d = await claim(u, 'duo');            // 2 GPUs: (1 + 2) x 2
    assert.equal(d.status, 402);
    assert.equal(d.body.error.needed_minutes, 2 * (1 + GRACE));

    const p = await s.api('/api/profiles', u.token);
    assert.equal(p.body.grace_minutes, GRACE);
    assert.equal(balance(u), GRACE, 'nothing billed');
});

test('claim, zero, grace, claim again, release, repeat: N credit minutes buy at most N GPU-minutes', async () => {
    const u = await user();

    // 1. run to zero: the grace is the last minutes of the balance
    await grant(u, 5);
    let id = await claimed(u);
    await until(u, 'running');
    const g = await waitFor(async () => {
        const st = await status(u);
        return st.grace_until || st.status === 'ended' ? st : null;
    }, 'the grace', 40000);
    assert.ok(g.grace_until, 'the grace is announced before the end');
    let end = await until(u, 'ended');
    assert.equal(end.end_reason, 'out_of_credits');
    assert.equal(end.billed_minutes, 5);
    assert.equal(balance(u), 0);
    assertPaid(u);

    // 2. at zero, and below the reserve: refused, nothing runs
    for (const minutes of [0, GRACE]) {
        if (minutes) await grant(u, minutes);
        const r = await claim(u);
        assert.equal(r.status, 402, `balance ${balance(u)}`);
        assert.equal(r.body.error.needed_minutes, 1 + GRACE);
    }

    // 3. enough for the reserve: claim, release at once, claim again
    await grant(u, 1);
    id = await claimed(u);
    await until(u, 'running');
    assert.equal((await s.api('/api/release', u.token, 'POST')).status, 202);
    end = await until(u, 'ended');
    assert.equal(end.session_id, id);
    assertPaid(u);
    const r = await claim(u);
    if (r.status === 202) {                     // the release came within the first minute
        await until(u, 'running');
        end = await until(u, 'ended');
        assert.equal(end.end_reason, 'out_of_credits');
    } else {
        assert.equal(r.status, 402);
    }
    assertPaid(u);

    // 4. two GPUs to zero
    await grant(u, 2 * (1 + GRACE) + 1 - balance(u));
    await claimed(u, 'duo');
    end = await until(u, 'ended');
    assert.equal(end.end_reason, 'out_of_credits');
    assert.ok(balance(u) < 2, 'what is left does not pay a minute of 2 GPUs');

    const t = assertPaid(u);
    assert.ok(t.sessions >= 3);
    assert.equal(t.debited + balance(u), u.granted);
});

test('credits that arrive in the grace end it and are billed; the session still stops when they are spent', async () => {
    const u = await user();
    await grant(u, 1 + GRACE);
    await claimed(u);
    await until(u, 'running');
    await waitFor(async () => (await status(u)).grace_until, 'the grace', 40000);
    await grant(u, 1 + GRACE);                  // the reserve whole again
    await waitFor(async () => {
        const st = await status(u);
        return st.status === 'running' && !st.grace_until;
    }, 'the grace over', 40000);
    const end = await until(u, 'ended');
    assert.equal(end.end_reason, 'out_of_credits');
    assert.equal(end.billed_minutes, u.granted);
    assert.equal(balance(u), 0);
    assertPaid(u);
});

test('a balance debited under a running session: billing stops where the minutes are no longer paid', async () => {
    const u = await user();
    await grant(u, 1 + GRACE);
    await claimed(u);
    await until(u, 'running');
    await grant(u, 2, 'revoke');                // an admin takes 2 of the reserve
    const end = await until(u, 'ended');
    assert.equal(end.end_reason, 'out_of_credits');
    assert.equal(end.billed_minutes, u.granted);
    assert.equal(balance(u), 0);
    assertPaid(u);
});
