// The job queue and the credit ledger, through the real interfaces: jobs
// queued with redis-cli (docs/worker.md's own command lines), run by the real
// worker into the real Postgres, read back from Redis (what the gate reads)
// and psql.  Faults are real too: a Postgres trigger that refuses inserts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Wallet } from 'ethers';
import { Stack, ROOT, waitFor } from './lib/stack.mjs';

const MAX_ATTEMPTS = 4;
const s = new Stack({
    workerConf: [
        `job_max_attempts ${MAX_ATTEMPTS}`,
        'job_retry_min 50ms',
        'job_retry_max 200ms',
        'job_claim_idle 2s',
        'heartbeat_interval 200ms',
        'heartbeat_ttl 1s',
        'queue_consumer q1',
    ].join('\n'),
});
before(() => s.start());
after(() => s.stop());

const DOC = readFileSync(join(ROOT, 'docs/worker.md'), 'utf8');

// A command line of docs/worker.md, run as written but for the port.
function docLine(re) {
    const line = DOC.split('\n').find(l => re.test(l));
    assert.ok(line, `docs/worker.md has a line matching ${re}`);
    return line;
}

function sh(line) {
    return execFileSync('bash', ['-c', line.replace(/^redis-cli /, `redis-cli -p ${s.redisPort} `)])
        .toString().trim();
}

const raw = (...args) => s.redis('--raw', ...args);
const state = id => raw('HGET', `axon:job:${id}`, 'state');
const job = id => {
    const flat = raw('HGETALL', `axon:job:${id}`).split('\n');
    const h = {};
    for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]] = flat[i + 1];
    return h;
};

function enqueue(fields) {
    return raw('XADD', 'axon:jobs', '*', ...Object.entries(fields).flat().map(String));
}

async function finished(id, want = 'done') {
    await waitFor(() => ['done', 'dead', 'replayed'].includes(state(id)), `job ${id} to finish`);
    const h = job(id);
    assert.equal(h.state, want, `job ${id}: ${JSON.stringify(h)}`);
    return h;
}

const wallet = () => Wallet.createRandom().address;          // EIP-55
const redisBalance = w => raw('HGET', `axon:wallet:${w.toLowerCase()}`, 'balance');
const pgBalance = w =>
    s.sql(`SELECT coalesce((SELECT balance_minutes FROM wallet_balance_v WHERE wallet = '${w.toLowerCase()}'), 0)`);

function deadEntry(jobId) {
    const flat = raw('XRANGE', 'axon:jobs:dead', '-', '+').split('\n');
    // id, then its field/value pairs, until the next id
    const entries = [];
    for (const l of flat) {
        if (/^\d+-\d+$/.test(l) && (entries.length === 0 || entries.at(-1).f.length % 2 === 0)) {
            entries.push({ id: l, f: [] });
        } else if (entries.length) entries.at(-1).f.push(l);
    }
    for (const e of entries) {
        const h = { entry: e.id };
        for (let i = 0; i + 1 < e.f.length; i += 2) h[e.f[i]] = e.f[i + 1];
        if (h.job_id === jobId) return h;
    }
    return null;
}

test("grant with the docs' redis-cli line: credited, visible where the gate reads it", async () => {
    const line = docLine(/^redis-cli XADD axon:jobs '\*' kind credit\.grant wallet 0x[0-9a-fA-F]{40} minutes 120 ref grant-42$/);
    const addr = line.match(/wallet (0x[0-9a-fA-F]{40})/)[1];
    const id = sh(line);
    assert.match(id, /^\d+-\d+$/);
    const h = await finished(id);
    assert.equal(h.kind, 'credit.grant');
    assert.equal(h.attempts, '1');
    assert.equal(redisBalance(addr), '120');
    assert.equal(pgBalance(addr), '120');
    const ledgerId = s.sql(`SELECT max(id) FROM credit_ledger WHERE wallet = '${addr.toLowerCase()}'`);
    assert.equal(raw('HGET', `axon:wallet:${addr.toLowerCase()}`, 'ledger_id'), ledgerId);
    assert.equal(s.sql(`SELECT kind || ' ' || delta_minutes || ' ' || idempotency_key || ' ' || actor
                      FROM ledger_history_v WHERE wallet = '${addr.toLowerCase()}'`),
                 'grant 120 grant:grant-42 admin');
    assert.equal(s.sql(`SELECT actor || ' ' || action || ' ' || (detail->>'via') FROM audit_log WHERE job_id = '${id}'`),
                 'admin credit.grant redis');
    // done: acknowledged and removed from the stream
    assert.equal(raw('XRANGE', 'axon:jobs', id, id), '');
    assert.match(s.log('worker.log'), new RegExp(`job ${id} credit\\.grant: done in \\d+ ms`));
    const ttl = Number(raw('PTTL', `axon:job:${id}`));
    assert.ok(ttl > 0, `done state expires (pttl ${ttl})`);
});

test('GET /api/me shows the balance once credits are granted', async () => {
    const w = Wallet.createRandom();
    const { token } = await s.signIn(w);
    const me = () => s.json('/api/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me()).body.balance_minutes, 0);
    const id = sh(`redis-cli XADD axon:jobs '*' kind credit.grant wallet ${w.address} minutes 45 ref me-${w.address}`);
    await finished(id);
    const r = await me();
    assert.equal(r.status, 200);
    assert.equal(r.body.wallet, w.address);
    assert.equal(r.body.balance_minutes, 45);
});

test('the same grant twice is credited once', async () => {
    const w = wallet();
    const a = enqueue({ kind: 'credit.grant', wallet: w, minutes: 30, ref: `twice-${w}` });
    const b = enqueue({ kind: 'credit.grant', wallet: w.toLowerCase(), minutes: 30, ref: `twice-${w}` });
    await finished(a);
    const hb = await finished(b);
    assert.match(hb.result, /was applied already: nothing changed/);
    assert.equal(pgBalance(w), '30');
    assert.equal(redisBalance(w), '30');
    assert.equal(s.sql(`SELECT count(*) FROM credit_ledger WHERE reference = 'twice-${w}'`), '1');
});

test('the same ref with another amount is refused', async () => {
    const w = wallet();
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 10, ref: `amt-${w}` }));
    const h = await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 11, ref: `amt-${w}` }), 'dead');
    assert.match(h.error, /grant:amt-\S+ was already used by ledger row \d+ \(grant 10 minutes/);
    assert.equal(pgBalance(w), '10');
});

const W = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';      // EIP-55's own example
const malformed = [
    ['an unknown kind', { kind: 'credit.gift', wallet: W, minutes: 5, ref: 'm1' }, /unknown job kind "credit\.gift" \(the kinds: .*credit\.grant/],
    ['no kind', { wallet: W, minutes: 5, ref: 'm2' }, /no "kind" field/],
    ['a missing wallet', { kind: 'credit.grant', minutes: 5, ref: 'm3' }, /^credit\.grant: missing field "wallet"/],
    ['negative minutes', { kind: 'credit.grant', wallet: W, minutes: -5, ref: 'm4' }, /field "minutes": -5 is out of range \(1 \.\. 10000000\)/],
    ['huge minutes', { kind: 'credit.grant', wallet: W, minutes: 10000001, ref: 'm5' }, /field "minutes": 10000001 is out of range/],
    ['minutes past 64 bits', { kind: 'credit.grant', wallet: W, minutes: '99999999999999999999', ref: 'm6' }, /field "minutes": "99999999999999999999" is not an integer/],
    ['non-numeric minutes', { kind: 'credit.grant', wallet: W, minutes: 'ten', ref: 'm7' }, /field "minutes": "ten" is not an integer/],
    ['minutes with blanks', { kind: 'credit.grant', wallet: W, minutes: ' 5', ref: 'm8' }, /is not an integer/],
    ['a short address', { kind: 'credit.grant', wallet: '0x1234', minutes: 5, ref: 'm9' }, /field "wallet": "0x1234" is not an address/],
    ['a non-hex address', { kind: 'credit.grant', wallet: '0x' + 'g'.repeat(40), minutes: 5, ref: 'm10' }, /is not an address/],
    ['a wrong checksum', { kind: 'credit.grant', wallet: W.replace('fB69', 'fb69'), minutes: 5, ref: 'm11' }, /wrong EIP-55 checksum/],
    ['a misspelled field', { kind: 'credit.grant', wallet: W, minute: 5, ref: 'm12' }, /unknown field "minute" \(credit\.grant takes: wallet, minutes, ref, note \(optional\)\)/],
    ['a ref with a blank', { kind: 'credit.grant', wallet: W, minutes: 5, ref: 'a b' }, /field "ref": "a b" is not a reference/],
    ['an adjustment of 0', { kind: 'credit.adjust', wallet: W, minutes: 0, ref: 'm14', reason: 'x' }, /field "minutes" must not be 0/],
    ['an adjustment without a reason', { kind: 'credit.adjust', wallet: W, minutes: 5, ref: 'm15' }, /missing field "reason"/],
    ['a replay of a bad id', { kind: 'job.replay', id: 'yesterday' }, /field "id": "yesterday" is not a stream entry id/],
    ['a sign-in with a bad token hash', { kind: 'auth.signin', wallet: W, token_hash: 'ab', issued_at: 1, expires_at: 2, nonce: 'ab', ip: '', user_agent: '' }, /field "token_hash" must be 64 characters long, not 2/],
    ['a sign-in with a bad ip', { kind: 'auth.signin', wallet: W, token_hash: 'a'.repeat(64), issued_at: 1, expires_at: 2, nonce: 'ab', ip: '1.2.3', user_agent: '' }, /field "ip": "1\.2\.3" is not an IPv4 or IPv6 address/],
];

test('malformed jobs fail at once with a clear reason, into the dead-letter stream; nothing credited', async () => {
    const pid = s.pid('worker');
    const ids = malformed.map(([, fields]) => enqueue(fields));
    for (let i = 0; i < ids.length; i++) {
        const [what, , expect] = malformed[i];
        const h = await finished(ids[i], 'dead');
        assert.match(h.error, expect, what);
        assert.equal(h.attempts, '1', what);
        const d = deadEntry(ids[i]);
        assert.ok(d, `${what}: in axon:jobs:dead`);
        assert.equal(d.error, h.error);
        assert.equal(d.attempts, '1');
        assert.equal(h.dead_id, d.entry);
    }
    assert.equal(pgBalance(W), '0');
    assert.equal(s.sql(`SELECT count(*) FROM credit_ledger WHERE reference ~ '^m[0-9]+$'`), '0');
    assert.equal(s.pid('worker'), pid, 'the same worker');
    assert.equal(raw('XLEN', 'axon:jobs'), '0');
});

// A fault injected in Postgres: inserts of ledger rows with these refs fail
// with lock_not_available (55P03), a transient error: flaky-N fails while
// a sequence (not rolled back with the transaction) is under 2; always-*
// fails while the switch is on.
test('fault trigger installed', () => {
    s.sql(`CREATE SEQUENCE test_flaky;
         CREATE TABLE test_fault_switch (always boolean NOT NULL);
         INSERT INTO test_fault_switch VALUES (true);
         CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.reference LIKE 'flaky-%' AND nextval('test_flaky') <= 2 THEN
                 RAISE EXCEPTION 'injected fault %', currval('test_flaky') USING ERRCODE = 'lock_not_available';
             END IF;
             IF NEW.reference LIKE 'always-%' AND (SELECT always FROM test_fault_switch) THEN
                 RAISE EXCEPTION 'injected fault, always' USING ERRCODE = 'lock_not_available';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER a_test_fault BEFORE INSERT ON credit_ledger
             FOR EACH ROW EXECUTE FUNCTION test_fault();`);
});

test('a job that fails transiently is retried with backoff and succeeds', async () => {
    const w = wallet();
    const id = enqueue({ kind: 'credit.grant', wallet: w, minutes: 7, ref: 'flaky-1' });
    const h = await finished(id);
    assert.equal(h.attempts, '3');
    assert.equal(pgBalance(w), '7');
    assert.equal(redisBalance(w), '7');
    const log = s.log('worker.log');
    assert.match(log, new RegExp(`\\[warn\\].*job ${id} credit\\.grant: attempt 1 of ${MAX_ATTEMPTS} failed: postgres: injected fault 1 \\(SQLSTATE 55P03\\); retrying in \\d+ms`));
    assert.match(log, new RegExp(`job ${id} credit\\.grant: attempt 2 of ${MAX_ATTEMPTS} failed`));
});

test('a job that keeps failing is dead-lettered after job_max_attempts, and can be replayed', async () => {
    const w = wallet();
    const id = enqueue({ kind: 'credit.grant', wallet: w, minutes: 9, ref: 'always-1' });
    const h = await finished(id, 'dead');
    assert.equal(h.attempts, String(MAX_ATTEMPTS));
    assert.match(h.error, new RegExp(`^failed ${MAX_ATTEMPTS} times; the last: postgres: injected fault, always \\(SQLSTATE 55P03\\)`));
    const d = deadEntry(id);
    assert.equal(d.kind, 'credit.grant');
    assert.equal(d.wallet, w);
    assert.equal(d.ref, 'always-1');
    assert.equal(d.attempts, String(MAX_ATTEMPTS));
    assert.equal(pgBalance(w), '0');

    // the fault is repaired; the admin replays it with the docs' line
    s.sql('UPDATE test_fault_switch SET always = false');
    const line = docLine(/^redis-cli XADD axon:jobs '\*' kind job\.replay id \S+$/)
        .replace(/ id \S+$/, ` id ${d.entry}`);
    const rid = sh(line);
    await finished(rid);
    const orig = await finished(id, 'replayed');
    const again = await finished(orig.replayed_as);
    assert.equal(again.attempts, '1');
    assert.equal(pgBalance(w), '9');
    assert.equal(redisBalance(w), '9');
    assert.equal(deadEntry(id), null, 'no longer dead');
    assert.equal(s.sql(`SELECT action || ' ' || subject || ' ' || (detail->>'replayed_as') FROM audit_log WHERE job_id = '${rid}'`),
                 `job.replay ${id} ${orig.replayed_as}`);

    // once only
    const h2 = await finished(enqueue({ kind: 'job.replay', id: d.entry }), 'dead');
    assert.match(h2.error, /no entry \S+ in axon:jobs:dead \(replayed already, or never dead-lettered\)/);
    assert.equal(pgBalance(w), '9');
});

test('an adjustment that would take a balance below zero is refused; within it, applied', async () => {
    const w = wallet();
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 100, ref: `adj-g-${w}` }));
    const line = docLine(/^redis-cli XADD axon:jobs '\*' kind credit\.adjust wallet 0x[0-9a-fA-F]{40} minutes -\d+ ref \S+ reason '[^']+'$/)
        .replace(/wallet \S+/, `wallet ${w}`).replace(/minutes \S+/, 'minutes -150').replace(/ ref \S+/, ` ref adj-1-${w}`);
    const id = sh(line);
    const h = await finished(id, 'dead');
    assert.equal(h.attempts, '1', 'not retried');
    assert.match(h.error, new RegExp(`refused: -150 minutes would take the balance of ${w.toLowerCase()} \\(100\\) below zero \\(balance_never_negative\\)`));
    assert.equal(pgBalance(w), '100');
    assert.equal(redisBalance(w), '100');

    await finished(enqueue({ kind: 'credit.adjust', wallet: w, minutes: -30, ref: `adj-2-${w}`, reason: 'refund of a test' }));
    assert.equal(redisBalance(w), '70');
    const rline = docLine(/^redis-cli XADD axon:jobs '\*' kind credit\.revoke wallet 0x[0-9a-fA-F]{40} minutes \d+ ref \S+ reason '[^']+'$/)
        .replace(/wallet \S+/, `wallet ${w}`).replace(/minutes \S+/, 'minutes 70').replace(/ ref \S+/, ` ref rev-${w}`);
    await finished(sh(rline));
    assert.equal(redisBalance(w), '0');
    assert.equal(pgBalance(w), '0');
    assert.equal(s.sql(`SELECT string_agg(kind || ':' || delta_minutes || ':' || balance_after, ' ' ORDER BY id)
                      FROM ledger_history_v WHERE wallet = '${w.toLowerCase()}'`),
                 'grant:100:100 adjustment:-30:70 adjustment:-70:0');
    assert.equal(s.sql(`SELECT count(*) FROM audit_log WHERE subject = '${w.toLowerCase()}' AND actor = 'admin'`), '3');
});

test('the wallet hash keeps the newest ledger id: an older balance never overwrites it', async () => {
    const w = wallet();
    const key = `axon:wallet:${w.toLowerCase()}`;
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `old-1-${w}` }));
    // as if a later change had been published already
    raw('HSET', key, 'balance', '999', 'ledger_id', '999999999');
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `old-2-${w}` }));
    assert.equal(redisBalance(w), '999');
    raw('DEL', key);
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `old-3-${w}` }));
    assert.equal(redisBalance(w), '15');
});

test('Redis flushed: the worker rebuilds every balance from Postgres', async () => {
    const before = s.sql(`SELECT string_agg(wallet || '=' || balance_minutes, ' ' ORDER BY wallet)
                        FROM wallet_balance_v WHERE balance_minutes > 0`).split(' ');
    assert.ok(before.length >= 4);
    raw('FLUSHALL');
    await waitFor(() => raw('EXISTS', 'axon:wallets:synced') === '1', 'the rebuild');
    for (const wb of before) {
        const [w, b] = wb.split('=');
        assert.equal(redisBalance(w), b, w);
    }
    assert.match(s.log('worker.log'), /wallets: rebuilt the balances of \d+ wallets/);
    // and the queue goes on (the group is created again)
    const w = wallet();
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 1, ref: `after-flush-${w}` }));
    assert.equal(redisBalance(w), '1');
});

const sha256 = t => createHash('sha256').update(t).digest('hex');

test("auth.signin and auth.logout with the module's fields: recorded once", async () => {
    const w = wallet();
    const token = randomBytes(32).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const signin = {
        kind: 'auth.signin', wallet: w.toLowerCase(), token_hash: sha256(token),
        issued_at: now, expires_at: now + 43200, nonce: randomBytes(16).toString('hex'),
        ip: '::1', user_agent: 'Mozilla/5.0 (X11; Linux x86_64) \u00e9',
    };
    await finished(enqueue(signin));
    await finished(enqueue(signin));        // the same job twice
    assert.equal(s.sql(`SELECT count(*) || ' ' || min(client_ip::text) || ' ' || min(user_agent) FROM signin_audit
                      WHERE address = '${w.toLowerCase()}' AND outcome = 'ok'`),
                 '1 ::1/128 Mozilla/5.0 (X11; Linux x86_64) \u00e9');
    assert.equal(s.sql(`SELECT count(*) FROM auth_tokens WHERE wallet = '${w.toLowerCase()}' AND revoked_at IS NULL`), '1');
    assert.equal(s.sql(`SELECT last_signin_at = to_timestamp(${now}) FROM wallets WHERE address = '${w.toLowerCase()}'`), 't');

    await finished(enqueue({ kind: 'auth.logout', token_hash: sha256(token), wallet: w, at: now + 60 }));
    assert.equal(s.sql(`SELECT revoked_at = to_timestamp(${now + 60}) FROM auth_tokens WHERE token_hash = decode('${sha256(token)}', 'hex')`), 't');

    // a logout that arrives before its sign-in: the token is revoked when it comes
    const t2 = randomBytes(32).toString('base64url');
    await finished(enqueue({ kind: 'auth.logout', token_hash: sha256(t2), wallet: w, at: now + 5 }));
    await finished(enqueue({ ...signin, token_hash: sha256(t2), nonce: randomBytes(16).toString('hex') }));
    assert.equal(s.sql(`SELECT revoked_at = to_timestamp(${now + 5}) FROM auth_tokens WHERE token_hash = decode('${sha256(t2)}', 'hex')`), 't');

    // someone else's token is not revoked
    const h = await finished(enqueue({ kind: 'auth.logout', token_hash: sha256(token), wallet: wallet(), at: now }), 'dead');
    assert.match(h.error, /the token is recorded for another wallet/);
});

test('counters: axon:queue:stats:CONSUMER has the worker\'s counts and gauges', async () => {
    const key = await waitFor(() => {
        const k = raw('KEYS', 'axon:queue:stats:*').split('\n').filter(Boolean);
        return k.length === 1 && k[0];
    }, 'one stats key');
    const t0 = Date.now();
    await waitFor(() => Number(raw('HGET', key, 'updated')) > t0, 'a tick after now');
    const flat = raw('HGETALL', key).split('\n');
    const st = {};
    for (let i = 0; i + 1 < flat.length; i += 2) st[flat[i]] = flat[i + 1];
    assert.ok(Number(st.done) >= 15, `done ${st.done}`);
    assert.ok(Number(st.failed) >= malformed.length + MAX_ATTEMPTS + 2, `failed ${st.failed}`);
    assert.ok(Number(st.retried) >= 2 + MAX_ATTEMPTS - 1, `retried ${st.retried}`);
    assert.ok(Number(st.dead) >= malformed.length + 1, `dead ${st.dead}`);
    assert.equal(st.replayed, '1');
    assert.equal(st.depth, '0');
    assert.equal(st.pending, '0');
    assert.equal(st.oldest_age_ms, '0');
    assert.equal(st.dead_depth, raw('XLEN', 'axon:jobs:dead'));
});

// A worker killed between a commit and the Redis write after it (a
// billing tick's balances, a release's last minute) leaves a balance in
// Redis behind Postgres's; nothing else writes it until the wallet's next
// ledger row.  The next start brings every balance up (the guarded write:
// never back).
test('a balance left behind in Redis by a killed worker is brought up at the next start', async () => {
    const w = wallet();
    const key = `axon:wallet:${w.toLowerCase()}`;
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 7, ref: `behind-1-${w}` }));
    await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `behind-2-${w}` }));
    const last = Number(raw('HGET', key, 'ledger_id'));
    await s.stack('stop', 'worker');
    // as before the second row's write: its balance and ledger id
    raw('HSET', key, 'balance', '7', 'ledger_id', String(last - 1));
    await s.stack('start', 'worker');
    await waitFor(() => redisBalance(w) === '12', 'the balance brought up');
    assert.equal(raw('HGET', key, 'ledger_id'), String(last));
    assert.equal(pgBalance(w), '12');
});

test('jobs queued while no worker runs are done when one starts, a replay among them', async () => {
    const bad = await finished(enqueue({ kind: 'credit.grant', wallet: '0x12', minutes: 1, ref: 'batch-bad' }), 'dead');
    await s.stack('stop', 'worker');
    const w = wallet();
    const a = enqueue({ kind: 'credit.grant', wallet: w, minutes: 3, ref: `later-a-${w}` });
    const r = enqueue({ kind: 'job.replay', id: bad.dead_id });
    const b = enqueue({ kind: 'credit.grant', wallet: w, minutes: 4, ref: `later-b-${w}` });
    await s.stack('start', 'worker');
    await finished(a);
    const hr = await finished(r);
    await finished(b);
    assert.equal(redisBalance(w), '7');
    assert.equal(pgBalance(w), '7');
    const again = await finished(hr.replayed_as, 'dead');      // still malformed
    assert.match(again.error, /field "wallet": "0x12" is not an address/);

    // a field of the job's own named like the dead letter's bookkeeping:
    // refused, and refused again when replayed (not dropped by the replay)
    const odd = await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `odd-${w}`, attempts: 3 }), 'dead');
    assert.match(odd.error, /unknown field "attempts"/);
    const ro = await finished(enqueue({ kind: 'job.replay', id: odd.dead_id }));
    assert.match((await finished(ro.replayed_as, 'dead')).error, /unknown field "attempts"/);
    assert.equal(pgBalance(w), '7');

    // replay_of (job.replay's own field, which goes to the audit row) must be a job id
    const fake = await finished(enqueue({ kind: 'credit.grant', wallet: w, minutes: 5, ref: `fake-${w}`,
                                          replay_of: 'made up' }), 'dead');
    assert.match(fake.error, /field "replay_of": "made up" is not a stream entry id/);
    assert.equal(pgBalance(w), '7');
    assert.match(s.log('worker.log'), new RegExp(`job ${r} job\\.replay: done in \\d+ ms: replayed dead job`));
});

test('a worker restarted under its consumer name takes its pending jobs back at once', async () => {
    await s.stack('stop', 'worker');
    const w = wallet();
    const id = enqueue({ kind: 'credit.grant', wallet: w, minutes: 2, ref: `pending-${w}` });
    // taken by q1, as by a worker killed before it ran it
    raw('XREADGROUP', 'GROUP', 'axon-workers', 'q1', 'COUNT', '10', 'STREAMS', 'axon:jobs', '>');
    assert.equal(raw('XPENDING', 'axon:jobs', 'axon-workers').split('\n')[0], '1');
    const t0 = Date.now();
    await s.stack('start', 'worker');
    await finished(id);
    assert.ok(Date.now() - t0 < 2000, 'before job_claim_idle');
    assert.equal(redisBalance(w), '2');
    assert.match(s.log('worker.log'), /queue: taking back 1 jobs pending on "q1"/);
    assert.doesNotMatch(s.log('worker.log'), /queue: claimed/);
});
