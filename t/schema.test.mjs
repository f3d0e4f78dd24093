// The schema's invariants hold in Postgres itself, whatever the code does:
// idempotent append-only ledger, no negative balance, exclusive GPUs, one
// live session per wallet, one deposit per (chain, tx, log index).  And the
// worker refuses a schema older than itself.  The function files
// (sql/functions/NAME.sql) are applied again when their checksum changes,
// once, however many workers migrate at once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, BUILD, ROOT, waitFor } from './lib/stack.mjs';

const s = new Stack();
before(() => s.start());
after(() => s.stop());

const A = '0x' + 'a'.repeat(40);
const B = '0x' + 'b'.repeat(40);

function sql(q) {
    const r = s.psql(q);
    assert.ok(r.ok, r.err);
    return r.out;
}

function sqlFails(q, expect) {
    const r = s.psql(q);
    assert.equal(r.ok, false, `must fail: ${q}`);
    assert.match(r.err, expect);
}

function ledger(wallet, kind, delta, key) {
    return `INSERT INTO credit_ledger (wallet, kind, delta_minutes, reference, idempotency_key)
            VALUES ('${wallet}', '${kind}', ${delta}, 'test', '${key}')`;
}

const balance = w => Number(sql(`SELECT balance_minutes FROM wallet_balance_v WHERE wallet = '${w}'`));

test('migrations are recorded', () => {
    assert.match(sql('SELECT name FROM axon_schema_migrations ORDER BY version'), /^001_core/);
});

test('addresses must be lowercase 0x + 40 hex, hashes 0x + 64 hex', () => {
    sqlFails(`INSERT INTO wallets (address) VALUES ('0xABC')`, /eth_address/);
    sqlFails(`INSERT INTO wallets (address) VALUES ('0x${'A'.repeat(40)}')`, /eth_address/);
    sql(`INSERT INTO wallets (address) VALUES ('${A}'), ('${B}')`);
    // the checks are a length in bytes and a class (014_domains): every
    // edge the old bounded regex refused is refused still
    const refused = (domain, hex) => [
        '', '0x', `0x${'a'.repeat(hex - 1)}`, `0x${'a'.repeat(hex + 1)}`,
        `0X${'a'.repeat(hex)}`, `1x${'a'.repeat(hex)}`, `0x${'a'.repeat(hex - 1)}g`,
        `0x${'a'.repeat(hex - 1)}\n`, `0x${'a'.repeat(hex - 2)}\u00e9`,
        ` 0x${'a'.repeat(hex - 1)}`, `0x${'0'.repeat(hex - 1)}F`,
    ].filter(v => sql(`SELECT E'${v}' ~ '^0x[0-9a-f]{${hex}}$'`) === 'f'
                  && !s.psql(`SELECT E'${v}'::${domain}`).ok).length;
    assert.equal(refused('eth_address', 40), 11);
    assert.equal(refused('eth_hash', 64), 11);
    assert.equal(sql(`SELECT '0x${'0123456789abcdef'.repeat(4)}'::eth_hash`), `0x${'0123456789abcdef'.repeat(4)}`);
});

test('ledger rows move the balance; balance_after is recorded', () => {
    sql(ledger(A, 'grant', 10, 'g1'));
    sql(ledger(A, 'usage', -3, 'u1'));
    assert.equal(balance(A), 7);
    assert.equal(sql(`SELECT balance_after FROM credit_ledger WHERE idempotency_key = 'u1'`), '7');
});

test('the same idempotency key twice changes nothing', () => {
    sqlFails(ledger(A, 'grant', 10, 'g1'), /credit_ledger_idempotency_key_key/);
    assert.equal(balance(A), 7);
});

test('no balance below zero, even from a direct insert', () => {
    sqlFails(ledger(A, 'usage', -8, 'u2'), /balance_never_negative/);
    assert.equal(balance(A), 7);
    sqlFails(`UPDATE wallet_balances SET balance = -1 WHERE wallet = '${A}'`, /balance_never_negative/);
});

// 006: a row may come with its balance_after (the billing tick's, which
// moves the balances itself); a statement trigger checks it against the
// wallet's ledger and balance
test('a ledger row with its own balance_after must follow the ledger and the balance', () => {
    const pre = (delta, after, key) => `INSERT INTO credit_ledger
        (wallet, kind, delta_minutes, balance_after, reference, idempotency_key)
        VALUES ('${A}', 'grant', ${delta}, ${after}, 'test', '${key}')`;
    // the balance not moved
    sqlFails(pre(2, 9, 'p1'), /credit_ledger_chain/);
    // moved, but the row does not follow the previous one (7 + 2 is 9)
    sqlFails(`WITH m AS (UPDATE wallet_balances SET balance = 10 WHERE wallet = '${A}')
              ${pre(2, 10, 'p1')}`, /credit_ledger_chain/);
    assert.equal(balance(A), 7);
    // both right: accepted, and the next row (through the row trigger) follows it
    sql(`WITH m AS (UPDATE wallet_balances SET balance = balance + 2 WHERE wallet = '${A}')
         ${pre(2, 9, 'p1')}`);
    assert.equal(balance(A), 9);
    sql(ledger(A, 'usage', -2, 'u-p1'));
    assert.equal(balance(A), 7);
    assert.equal(sql(`SELECT string_agg(balance_after::text, ',' ORDER BY id) FROM credit_ledger
                       WHERE wallet = '${A}'`), '10,7,9,7');
});

test('the ledger is append-only', () => {
    sqlFails(`UPDATE credit_ledger SET delta_minutes = 100`, /append-only/);
    sqlFails(`DELETE FROM credit_ledger`, /append-only/);
    sqlFails(`TRUNCATE credit_ledger CASCADE`, /append-only/);
    assert.equal(balance(A), 7);
});

test('a usage row must debit, a deposit must credit', () => {
    sqlFails(ledger(A, 'usage', 5, 'u3'), /credit_ledger_check/);
    sqlFails(ledger(A, 'deposit', -5, 'd1'), /credit_ledger_check/);
});

// sessions.id is the module's (INCR axon:session:next): given explicitly
test('one live or queued session per wallet', () => {
    sql(`INSERT INTO sessions (id, wallet, profile, gpu_count) VALUES (1, '${A}', 'small', 1)`);
    sqlFails(`INSERT INTO sessions (id, wallet, profile, gpu_count) VALUES (2, '${A}', 'small', 1)`,
        /sessions_one_live_per_wallet/);
    sql(`UPDATE sessions SET state = 'ended', ended_at = now() WHERE wallet = '${A}'`);
    sql(`INSERT INTO sessions (id, wallet, profile, gpu_count) VALUES (3, '${A}', 'small', 1)`);
    sqlFails(`INSERT INTO sessions (wallet, profile, gpu_count) VALUES ('${B}', 'small', 1)`,
        /null value in column "id"/);
});

test('no GPU in two live sessions', () => {
    const sa = sql(`SELECT id FROM sessions WHERE wallet = '${A}' AND state <> 'ended'`);
    const sb = sql(`INSERT INTO sessions (id, wallet, profile, gpu_count) VALUES (4, '${B}', 'small', 1) RETURNING id`);
    sql(`INSERT INTO gpu_assignments (session_id, host, gpu_index) VALUES (${sa}, 'h1', 0)`);
    sqlFails(`INSERT INTO gpu_assignments (session_id, host, gpu_index) VALUES (${sb}, 'h1', 0)`,
        /gpu_assignments_exclusive/);
    sql(`INSERT INTO gpu_assignments (session_id, host, gpu_index) VALUES (${sb}, 'h2', 0)`);
    sql(`UPDATE gpu_assignments SET released_at = now() WHERE session_id = ${sa}`);
    sql(`INSERT INTO gpu_assignments (session_id, host, gpu_index) VALUES (${sb}, 'h1', 0)`);
});

test('one deposit per (chain, tx hash, log index)', () => {
    const tx = '0x' + '1'.repeat(64);
    const dep = li => `INSERT INTO deposits (chain_id, tx_hash, log_index, payer, asset, amount)
                       VALUES (1337, '${tx}', ${li}, '${A}', 'ETH', 1000)`;
    sql(dep(-1));
    sqlFails(dep(-1), /deposits_chain_id_tx_hash_log_index_key/);
    sql(dep(3));
});

// 009: an x402 payment is (nonce, payer): another payer may use the same nonce
test('x402 payments keyed by (nonce, payer); one credit per transfer on chain', () => {
    const nonce = '0x' + '2'.repeat(64);
    const tx = '0x' + '3'.repeat(64);
    const begin = w => `SELECT payer FROM axon_x402_begin('${nonce}', '${w}', '${B}', '${B}', 'eip155:1337',
        1000, 'small', 30, 30, NULL, 'job-${w}', 'self', NULL, NULL)`;
    assert.equal(sql(begin(A)), A);
    assert.equal(sql(begin(B)), B);
    assert.equal(sql(begin(A)), A);
    assert.equal(sql(`SELECT count(*) FROM x402_payments WHERE nonce = '${nonce}'`), '2');

    // A's settlement credits A (key x402:NONCE:PAYER) and claims the transfer
    const settle = w => sql(`SELECT applied FROM axon_x402_settled('${nonce}', '${w}', '${tx}', 1337, 1, NULL)`);
    const had = balance(A);
    assert.equal(settle(A), 't');
    assert.equal(settle(A), 'f');
    assert.equal(balance(A), had + 30);
    assert.equal(sql(`SELECT credited_as FROM chain_credits WHERE tx_hash = '${tx}'`), `x402:${nonce}:${A}`);
    // a deposit of the same Transfer: credited with nothing
    const dep = sql(`INSERT INTO deposits (chain_id, tx_hash, log_index, payer, asset, amount, state)
                     VALUES (1337, '${tx}', 7, '${A}', '${B}', 1000000, 'confirming') RETURNING id`);
    assert.equal(sql(`SELECT new_state || ' ' || minutes FROM axon_deposit_credit(${dep}, 60, 6, 0, 'worker', NULL, NULL, 1)`),
                 'credited 0');
    assert.equal(balance(A), had + 30);
    // B's payment said to be settled by the same transfer: nothing more credited
    assert.equal(settle(B), 'f');
    assert.equal(sql(`SELECT count(*) FROM credit_ledger WHERE idempotency_key LIKE 'x402:${nonce}%'`), '1');
    // the chain event's key: once
    sqlFails(`INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id, credited_as)
              SELECT 1337, '${tx}', 1, id, 'test' FROM credit_ledger LIMIT 1`, /chain_credits_pkey/);
});

// the confirmer's credit of many deposits at once: each as one at a time
test('axon_deposits_credit: each deposit as axon_deposit_credit, one ledger row per transfer', () => {
    const C = '0x' + 'c'.repeat(40), D = '0x' + 'd'.repeat(40);
    const tx = n => '0x' + n.repeat(64);
    const dep = (t, li, payer, amount, state = 'confirming') => sql(`INSERT INTO deposits
        (chain_id, tx_hash, log_index, payer, asset, amount, state)
        VALUES (1337, '${t}', ${li}, '${payer}', '${B}', ${amount}, '${state}') RETURNING id`);
    const ids = [
        dep(tx('5'), 0, C, 1000000),        // 60 minutes
        dep(tx('6'), 0, C, 2000000),        // 120 more, after it
        dep(tx('7'), 0, D, 1000),           // worth no minute: rejected
        dep(tx('8'), 4, D, 1000000),        // its transfer (log 0 in its tx) credited by x402
        dep(tx('9'), 2, C, 1000000),        // two rows of one transfer (a reorg moved
        dep(tx('9'), 5, C, 1000000),        // its log): the first credited, not the second
        dep(tx('a'), 0, D, 1000000, 'rejected'),
    ];
    const x402 = sql(`SELECT id FROM credit_ledger LIMIT 1`);
    sql(`INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id, credited_as)
         VALUES (1337, '${tx('8')}', 0, ${x402}, 'x402:test')`);
    const [c0, d0] = [balance(C) || 0, balance(D) || 0];
    const credit = () => sql(`SELECT string_agg(id || ' ' || new_state || ' ' || coalesce(minutes, -1) || ' '
        || applied, ',' ORDER BY id) FROM axon_deposits_credit('{${ids}}', '{60,60,60,60,60,60,60}',
        '{6,6,6,6,6,6,6}', '{0,0,0,0,0,0,0}', '{0,0,0,0,0,0,0}')`).split(',');
    const first = credit();
    assert.deepEqual(first.map(r => r.split(' ').slice(1).join(' ')), [
        'credited 60 true', 'credited 120 true', 'rejected -1 false', 'credited 0 false',
        'credited 60 true', 'credited 0 false', 'rejected -1 false']);
    assert.equal(balance(C), c0 + 240);
    assert.equal(balance(D) || 0, d0);
    assert.equal(sql(`SELECT string_agg(coalesce(reject_reason, '-'), ',' ORDER BY id) FROM deposits
                      WHERE id IN (${ids})`),
                 '-,-,amount_too_small,already_credited,-,already_credited,-');
    assert.equal(sql(`SELECT string_agg(balance_after::text, ',' ORDER BY id) FROM credit_ledger
                      WHERE wallet = '${C}'`), `${c0 + 60},${c0 + 180},${c0 + 240}`);
    assert.equal(sql(`SELECT count(*) FROM chain_credits WHERE tx_hash IN ('${tx('5')}', '${tx('6')}', '${tx('9')}')`),
                 '3');
    // again: nothing more, the same answers but applied
    assert.deepEqual(credit(), first.map(r => r.replace(/ true$/, ' false')));
    assert.equal(balance(C), c0 + 240);
    assert.equal(sql(`SELECT count(*) FROM credit_ledger WHERE wallet = '${C}'`), '3');
    // its row lost and recorded again (a rescan): credited with its own ledger row, nothing posted
    const posted = sql(`SELECT ledger_id FROM deposits WHERE id = ${ids[0]}`);
    sql(`DELETE FROM deposits WHERE id = ${ids[0]}`);
    const again = dep(tx('5'), 0, C, 1000000);
    assert.equal(sql(`SELECT string_agg(new_state || ' ' || minutes || ' ' || ledger_id || ' ' || balance || ' '
        || applied, ',') FROM axon_deposits_credit('{${again}}', '{60}', '{6}', '{0}', '{0}')`),
                 `credited 60 ${posted} ${c0 + 240} false`);
    assert.equal(sql(`SELECT state || ' ' || credited_minutes || ' ' || ledger_id FROM deposits WHERE id = ${again}`),
                 `credited 60 ${posted}`);
    assert.equal(balance(C), c0 + 240);
    assert.equal(sql(`SELECT count(*) FROM credit_ledger WHERE wallet = '${C}'`), '3');
    // the same in one batch with a new deposit: each found, the new one alone posted
    sql(`DELETE FROM deposits WHERE id = ${again}`);
    const again2 = dep(tx('5'), 0, C, 1000000), fresh = dep(tx('b'), 0, C, 3000000);
    assert.equal(sql(`SELECT string_agg(id || ' ' || new_state || ' ' || minutes || ' ' || applied, ','
        ORDER BY id) FROM axon_deposits_credit('{${fresh},${again2}}', '{60,60}', '{6,6}', '{0,0}', '{0,0}')`),
                 `${again2} credited 60 false,${fresh} credited 180 true`);
    assert.equal(sql(`SELECT ledger_id FROM deposits WHERE id = ${again2}`), posted);
    assert.equal(balance(C), c0 + 420);
    assert.equal(sql(`SELECT count(*) FROM credit_ledger WHERE wallet = '${C}'`), '4');
});

// the indexer's record of a range at once: each log as axon_deposit_seen
test('axon_deposits_seen: each log as axon_deposit_seen, in the order given, a final row unchanged', () => {
    const E = '0x' + 'e'.repeat(40);
    const tx = n => '0x' + ('e' + n).repeat(32), bh = n => '0x' + n.repeat(64);
    sql(`INSERT INTO deposits (chain_id, tx_hash, log_index, block_number, block_hash, payer, asset, amount, state)
         VALUES (1337, '${tx('1')}', 3, 9, '${bh('9')}', '${E}', '${B}', 5, 'credited'),
                (1337, '${tx('2')}', 0, 9, '${bh('9')}', '${E}', '${B}', 6, 'orphaned')`);
    const seen = (txs, lis, blk, hash) => sql(`SELECT string_agg(tx_hash || ':' || log_index || ' ' || state
        || ' ' || block_number, ',' ORDER BY o) FROM (SELECT s.*, row_number() OVER () AS o
        FROM axon_deposits_seen(1337, '{${txs}}', '{${lis}}', '{${lis.map(() => blk)}}',
        '{${lis.map(() => hash)}}', '{${lis.map(() => E)}}', '{${lis.map(() => B)}}',
        '{${lis.map(() => 'T')}}', '{${lis.map(() => 7)}}') s) x`).split(',');
    // new, credited (unchanged), orphaned (confirming again in its new block), a key twice
    assert.deepEqual(seen([tx('3'), tx('1'), tx('2'), tx('3')], [1, 3, 0, 1], 12, bh('c')), [
        `${tx('3')}:1 confirming 12`, `${tx('1')}:3 credited 9`, `${tx('2')}:0 confirming 12`,
        `${tx('3')}:1 confirming 12`]);
    assert.equal(sql(`SELECT count(*) FROM deposits WHERE tx_hash = '${tx('3')}'`), '1');
    // one as the verify path records it: the same function for one
    assert.equal(sql(`SELECT state || ' ' || block_number FROM axon_deposit_seen(1337, '${tx('3')}', 1, 13,
        '${bh('d')}', '${E}', '${B}', 'T', 7)`), 'confirming 13');
    assert.equal(sql(`SELECT amount FROM deposits WHERE tx_hash = '${tx('1')}'`), '5');
});

// Two Postgres sessions at once, for the lock tests.  holding(): a
// transaction holds what select locked (its one row read back as row)
// until the function it returns commits it.  meanwhile(): q runs in the
// background until it is done or waits on a lock (where: how its
// pg_stat_activity row is found); done says which, exited its exit code.
const psqlArgs = () => ['-h', '127.0.0.1', '-p', String(s.pgPort), '-U', 'axon', '-d', 'axon',
    '-qtAX', '-v', 'ON_ERROR_STOP=1'];

async function holding(select, row) {
    const p = spawn('psql', psqlArgs(), { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', d => { out += d; });
    const exited = new Promise(r => p.on('exit', r));
    p.stdin.write(`BEGIN;\n${select};\n`);
    await waitFor(() => out.trim() === row, `held: ${select}`);
    return async () => { p.stdin.end('COMMIT;\n'); await exited; };
}

async function meanwhile(q, where) {
    const p = spawn('psql', [...psqlArgs(), '-c', q], { stdio: 'ignore' });
    const exited = new Promise(r => p.on('exit', r));
    await waitFor(() => p.exitCode !== null
        || sql(`SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND ${where}`) !== '0',
        `done or waiting: ${q}`);
    return { done: p.exitCode !== null, exited };
}

// A tick skips a running session another transaction holds (SKIP LOCKED:
// the scheduler's publish, another worker's tick), and must not end it
// unbilled: nothing bills a session once it is ending.  A stopped session
// whose last minute is due, held while a tick runs, is billed that minute
// by the tick after, and ends then (this stack's worker runs no ticks).
test('a billing tick ends no session it skipped, unbilled', async () => {
    const F = '0x' + 'f'.repeat(40);
    const tickSql = 'SELECT count(*) FROM axon_billing_tick(60000, 0, 0, NULL, NULL, NULL)';
    sql(`INSERT INTO wallets (address) VALUES ('${F}')`);
    sql(ledger(F, 'grant', 100, 'g-tick'));
    // started 185 s ago, minutes 0..2 billed, stopped now: minute 3 is due
    sql(`INSERT INTO sessions (id, wallet, profile, gpu_count, state, started_at,
                               billed_minutes, stop_at, end_reason)
         VALUES (90, '${F}', 'small', 1, 'running', now() - interval '185 s', 3, now(), 'user_stop')`);

    const commit = await holding('SELECT id FROM sessions WHERE id = 90 FOR UPDATE', '90');
    // a tick meanwhile: it skips the session; it ends, or waits on the holder
    let tick;
    try {
        tick = await meanwhile(tickSql, "query LIKE '%axon_billing_tick%'");
    } finally {
        await commit();
    }
    assert.equal(await tick.exited, 0);
    assert.equal(sql(`SELECT state || ' ' || billed_minutes FROM sessions WHERE id = 90`), 'running 3');

    sql(tickSql);
    assert.equal(sql(`SELECT state || ' ' || billed_minutes FROM sessions WHERE id = 90`), 'ending 4');
    assert.equal(sql(`SELECT string_agg(idempotency_key || ' ' || delta_minutes, ',')
                        FROM credit_ledger WHERE wallet = '${F}' AND kind = 'usage'`), 'usage:90:3 -1');
    assert.equal(balance(F), 99);
});

// Credits that came before the end of a grace end it, even when the tick
// that sees them runs after grace_until (late, or the worker was down):
// the session runs on, billed the minutes since; without them it stops
// at grace_until, out of credits
test('a tick after the end of a grace keeps the session that credits paid for meanwhile', () => {
    const G1 = '0x' + '1a'.repeat(20), G2 = '0x' + '2a'.repeat(20);
    const tick = () => sql('SELECT count(*) FROM axon_billing_tick(60000, 120000, 0, NULL, NULL, NULL)');
    for (const [w, id] of [[G1, 91], [G2, 92]]) {
        sql(`INSERT INTO wallets (address) VALUES ('${w}')`);
        sql(ledger(w, 'grant', 1, `g-grace-${id}`));
        // minutes 0..4 billed, the grace (2 minutes) ended 10 s ago: minute 5 is due
        sql(`INSERT INTO sessions (id, wallet, profile, gpu_count, state, started_at, billed_minutes, grace_until)
             VALUES (${id}, '${w}', 'small', 1, 'running', now() - interval '310 s', 5, now() - interval '10 s')`);
    }
    sql(ledger(G1, 'grant', 10, 'g-grace-late'));      // 11: minute 5 and the reserve of 2
    tick();
    assert.equal(sql('SELECT state || \' \' || billed_minutes || \' \' || (grace_until IS NULL) || \' \' || coalesce(end_reason, \'-\') FROM sessions WHERE id = 91'),
                 'running 6 true -');
    assert.equal(balance(G1), 10);
    assert.equal(sql('SELECT state || \' \' || billed_minutes || \' \' || end_reason FROM sessions WHERE id = 92'),
                 'ending 5 out_of_credits');
    assert.equal(balance(G2), 1);
    sql("UPDATE sessions SET state = 'ended', ended_at = now() WHERE id IN (91, 92)");
});

// gpu.drain and the assignment pass (axon_sched_assign) take one lock: a
// pass that read the drained hosts before the drain commits has committed
// its assignments before the drain answers, so none comes after "drained"
test('a drain waits for an assignment pass in progress', async () => {
    // an assignment pass in progress: its lock held
    const commit = await holding("SELECT 'held' FROM pg_advisory_xact_lock(7306001)", 'held');
    let drain;
    try {
        drain = await meanwhile("SELECT axon_gpu_drain('h9', true, 'test', NULL)",
            "wait_event = 'advisory' AND query LIKE '%axon_gpu_drain%'");
        assert.equal(drain.done, false, 'the drain waits for the pass');
        assert.equal(sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'h9'"), '0');
    } finally {
        await commit();
    }
    assert.equal(await drain.exited, 0);
    assert.equal(sql("SELECT count(*) FROM gpu_hosts_drained WHERE host = 'h9'"), '1');
    sql("SELECT axon_gpu_drain('h9', false, 'test', NULL)");
});

test('the worker refuses a schema older than itself, naming the migration', async () => {
    await s.stack('stop', 'worker');
    const row = sql(`SELECT version, name, checksum FROM axon_schema_migrations WHERE name = '001_core'`)
        .split('|');
    sql(`DELETE FROM axon_schema_migrations WHERE name = '001_core'`);
    try {
        const r = spawnSync(join(BUILD, 'axon-worker'), ['-c', join(s.dir, 'worker.conf')],
            { timeout: 30000 });
        assert.equal(r.status, 78, r.stderr.toString());
        assert.match(r.stderr.toString(), /\[emerg\].*migration 001_core is not applied/);
    } finally {
        sql(`INSERT INTO axon_schema_migrations (version, name, checksum)
             VALUES (${row[0]}, '${row[1]}', '${row[2]}')`);
    }
    await s.stack('start', 'worker');
});

const FUNCS = join(ROOT, 'sql/functions');
const fileSum = name => createHash('sha256').update(readFileSync(join(FUNCS, `${name}.sql`))).digest('hex');

// --migrate, as a worker starting up runs it: its exit status, what it
// printed (stdout) and logged (stderr)
function migrate() {
    return new Promise((ok, fail) => {
        const p = spawn(join(BUILD, 'axon-worker'), ['-c', join(s.dir, 'worker.conf'), '--migrate']);
        let out = '', err = '';
        p.stdout.on('data', d => { out += d; });
        p.stderr.on('data', d => { err += d; });
        p.on('error', fail);
        p.on('close', status => ok({ status, out, err }));
    });
}

test('every function file is applied and recorded with its checksum', () => {
    const files = readdirSync(FUNCS).filter(f => f.endsWith('.sql')).map(f => f.slice(0, -4)).sort();
    const rows = sql(`SELECT name || ' ' || checksum FROM axon_schema_functions ORDER BY name`);
    assert.equal(rows, files.map(n => `${n} ${fileSum(n)}`).join('\n'));
    // each file defines the function of its name, and no other is left
    assert.equal(sql(`SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
                      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`),
                 files.join(' '));
});

test('a function file whose checksum changed is applied again, once, with two workers migrating at once', async () => {
    const F = 'axon_grace_minutes';
    const def = () => sql(`SELECT pg_get_functiondef('${F}'::regproc)`);
    const stamps = () => sql(`SELECT string_agg(name || ' ' || applied_at, ',' ORDER BY name)
                              FROM axon_schema_functions WHERE name <> '${F}'`);
    const want = def();
    const others = stamps();
    const at = sql(`SELECT applied_at FROM axon_schema_functions WHERE name = '${F}'`);
    // the database has another text of it than this worker's file
    sql(`CREATE OR REPLACE FUNCTION ${F}(p_grace_ms bigint, p_minute_ms bigint)
         RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 0::bigint $$`);
    sql(`UPDATE axon_schema_functions SET checksum = 'stale' WHERE name = '${F}'`);
    assert.notEqual(def(), want);

    const runs = await Promise.all([migrate(), migrate()]);
    for (const r of runs) assert.equal(r.status, 0, r.err);
    const out = runs.map(r => r.out).join('');
    const applied = out.match(/^applied .*/gm) || [];
    assert.equal(applied.length, 1, out);
    assert.match(applied[0], new RegExp(`^applied function ${F} \\(\\d+ ms\\)$`));
    assert.match(out, /nothing to apply/);

    assert.equal(def(), want);
    assert.equal(sql(`SELECT checksum FROM axon_schema_functions WHERE name = '${F}'`), fileSum(F));
    assert.equal(sql(`SELECT applied_at > '${at}' FROM axon_schema_functions WHERE name = '${F}'`), 't');
    // the unchanged ones were left alone
    assert.equal(stamps(), others);
});

test('the worker refuses a database where a function file was never applied', async () => {
    await s.stack('stop', 'worker');
    const F = 'axon_grace_minutes';
    const row = sql(`SELECT checksum, applied_at FROM axon_schema_functions WHERE name = '${F}'`).split('|');
    sql(`DELETE FROM axon_schema_functions WHERE name = '${F}'`);
    try {
        const r = spawnSync(join(BUILD, 'axon-worker'), ['-c', join(s.dir, 'worker.conf')],
            { timeout: 30000 });
        assert.equal(r.status, 78, r.stderr.toString());
        assert.match(r.stderr.toString(), new RegExp(`\\[emerg\\].*function ${F} .*is not applied`));
    } finally {
        sql(`INSERT INTO axon_schema_functions (name, checksum, applied_at)
             VALUES ('${F}', '${row[0]}', '${row[1]}')`);
    }
    await s.stack('start', 'worker');
});
