// axon-worker's command line and config: bad input is refused with the
// key and line named; the sample config is the table; signals behave; the
// heartbeat keys are what the module reads; migrations are idempotent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, BUILD, ROOT, waitFor } from './lib/stack.mjs';

const WORKER = join(BUILD, 'axon-worker');
const tmp = mkdtempSync(join(tmpdir(), 'axon-w-'));
const s = new Stack();
before(() => s.start());
after(async () => { rmSync(tmp, { recursive: true, force: true }); await s.stop(); });

function worker(args, conf) {
    const file = join(tmp, 'w.conf');
    if (conf !== undefined) writeFileSync(file, conf);
    const r = spawnSync(WORKER, conf !== undefined ? ['-c', file, ...args] : args, { timeout: 20000 });
    return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

const A1 = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const A2 = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const U1 = '366db770-2957-4105-20b5-59227776f17a';    // the H200 of t/fixtures

const refused = [
    ['an unknown key', 'redis_prot 1\n', /w\.conf:1: unknown key "redis_prot"/],
    ['a port out of range', '# c\nredis_port 70000\n', /w\.conf:2: .*redis_port: 70000 is out of range \(1 \.\. 65535\)/],
    ['a bad duration', 'heartbeat_interval soon\n', /heartbeat_interval/],
    ['an integer with a plus', 'queue_batch +5\n', /w\.conf:1: .*queue_batch: "\+5" is not an integer/],
    ['an integer after a blank', 'queue_batch " 5"\n', /w\.conf:1: .*queue_batch: " 5" is not an integer/],
    ['a ttl not above the interval', 'heartbeat_interval 2s\nheartbeat_ttl 2s\n', /heartbeat_ttl \(2s\) must be greater than heartbeat_interval \(2s\)/],
    ['a bad log level', 'log_level verbose\n', /log_level: "verbose" is not one of/],
    ['a key set twice', 'redis_port 1\nredis_port 2\n', /redis_port is already set on line 1/],
    ['a redis_host with a blank', 'redis_host "a b"\n', /w\.conf:1: redis_host "a b" is not one host name or address/],
    ['a metrics_listen without a port', 'log_level info\nmetrics_listen 127.0.0.1\n', /w\.conf:2: metrics_listen "127\.0\.0\.1" is not HOST:PORT/],
    ['a metrics_listen port past 65535', 'metrics_listen 127.0.0.1:70000\n', /w\.conf:1: metrics_listen ".*" is not HOST:PORT \(an IPv6 address in brackets; the port 1 to 65535\)/],
    ['an IPv6 metrics_listen without brackets', 'metrics_listen ::1:9187\n', /w\.conf:1: metrics_listen "::1:9187" is not HOST:PORT/],
    ['a metrics_listen host with a slash', 'metrics_listen a/b:9187\n', /w\.conf:1: metrics_listen "a\/b:9187" is not HOST:PORT/],
    ['an ssh_host with a blank', 'ssh_host "gpu 1.example"\n', /ssh_host "gpu 1\.example": a host name or an address/],
    // the deposit keys are checked whether deposits are on or not
    ['a revenue wallet that is no address', 'deposit_revenue_wallet 0x12\n', /w\.conf:1: deposit_revenue_wallet "0x12" is not an address/],
    ['a revenue wallet with a bad checksum', 'deposit_revenue_wallet 0x833589FCD6eDb6E08f4c7C32D4f71b54bdA02913\n', /deposit_revenue_wallet ".*" is not an address \(0x and 40 hex digits, all lowercase or in their EIP-55 checksum case\)/],
    ['a token without its price', `deposit_tokens USDC:${A1}:6\n`, /w\.conf:1: deposit_tokens: "USDC:0x.*:6" is not SYMBOL:ADDRESS:DECIMALS:PRICE/],
    ['a token with a short address', `deposit_tokens USDC:${A1.slice(0, 41)}:6:60\n`, /deposit_tokens: "USDC": "0x[0-9a-fA-F]{39}" is not an address/],
    ['a token given twice', `deposit_tokens USDC:${A1}:6:60,USDC:${A2}:6:1\n`, /deposit_tokens: "USDC" is given twice/],
    ['a token priced at 0', `deposit_tokens USDC:${A1}:6:0\n`, /deposit_tokens: "USDC": DECIMALS is 0 to 36, PRICE/],
    ['an empty token item', `deposit_tokens USDC:${A1}:6:60,,AXGT:${A2}:18:1\n`, /deposit_tokens: an empty item/],
    ['a tier token without decimals', `deposit_tier_token ${A2}\n`, /deposit_tier_token "0x.*" is not ADDRESS:DECIMALS/],
    ['tiers out of order', `deposit_tier_token ${A2}:18\ndeposit_tiers 100:5,50:10\n`, /w\.conf:2: deposit_tiers: "50:10": MIN must be greater than the tier before/],
    ['a 100 % tier', `deposit_tier_token ${A2}:18\ndeposit_tiers 100:100\n`, /deposit_tiers: "100:100" is not MIN:PERCENT/],
    // without a tier token too: a reload that sets one must not find them bad first
    ['tiers out of order, no tier token', 'deposit_tiers 1000:5,100:10\n', /w\.conf:1: deposit_tiers: "100:10": MIN must be greater than the tier before/],
    ['tiers that are no list, no tier token', 'deposit_tiers garbage\n', /w\.conf:1: deposit_tiers: "garbage" is not MIN:PERCENT/],
    // what a mode needs is named where the mode is set; a bad value where it is
    ['x402_settle self without a node', 'log_level info\nx402_settle self\n', /w\.conf:2: x402_settle self needs eth_rpc_url/],
    ['x402_settle self without a key file', 'eth_rpc_url http://127.0.0.1:1\nx402_settle self\n', /w\.conf:2: x402_settle self needs x402_gas_key_file/],
    ['x402_settle facilitator without its URL', 'log_level info\nx402_settle facilitator\n', /w\.conf:2: x402_settle facilitator needs x402_facilitator_url/],
    ['a facilitator URL that is not http', 'x402_settle facilitator\nx402_facilitator_url ftp://f.example\n', /w\.conf:2: x402_settle facilitator needs x402_facilitator_url, an http/],
    ['a port pool past 65535', 'port_pool_start 65000\n', /w\.conf:1: the port pool, port_pool_start \(65000\) \+ port_pool_size \(1000\), ends past port 65535/],
    ['a port pool below 1024', 'port_pool_start 22\n', /w\.conf:1: port_pool_start: 22 is out of range \(1024 \.\. 65535\)/],
    ['an empty port pool', 'port_pool_size 0\n', /w\.conf:1: port_pool_size: 0 is out of range/],
    // a host's GPUs: all indexes or all UUIDs (its slots are their order)
    ['indexes and UUIDs on one host', `gpu_hosts local=GPU-${U1},0\n`, /gpu_hosts: host "local": "0" is not a GPU UUID \(GPU-\.\.\. or MIG-\.\.\.\); a host's GPUs are all indexes or all UUIDs/],
    ['a UUID after indexes', `gpu_hosts local=0,GPU-${U1}\n`, /gpu_hosts: host "local": a host's GPUs are all indexes or all UUIDs/],
    ['a UUID given twice', `gpu_hosts local=GPU-${U1},GPU-${U1}\n`, /gpu_hosts: GPU GPU-366db770-.* of host "local" is given twice/],
    ['a UUID with a blank quoted in', `gpu_hosts "local=GPU-${U1},GPU-a b"\n`, /gpu_hosts/],
    ['a GPU source that is none', 'gpu_activity dcgm\n', /gpu_activity: "dcgm" is not one of/],
    ['a busy threshold of 0', 'gpu_busy_threshold 0\n', /gpu_busy_threshold: 0 is out of range \(1 \.\. 100\)/],
];

for (const [what, conf, expect] of refused) {
    test(`config with ${what} is refused (exit 78), naming it`, () => {
        const r = worker(['-t'], conf);
        assert.equal(r.status, 78, r.err);
        assert.match(r.err, expect);
    });
}

test('a full deposit config passes -t', () => {
    const r = worker(['-t'], `deposit_revenue_wallet ${A1}\n` +
        `deposit_tokens USDC:${A1}:6:60,AXGT:${A2}:18:1\ndeposit_eth_price 200000\n` +
        `deposit_tier_token ${A2}:18\ndeposit_tiers 10:5,100:10\n`);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /is ok/);
});

test('GPU UUIDs in gpu_hosts pass -t beside a host of indexes', () => {
    const r = worker(['-t'], `gpu_hosts "local=GPU-${U1},MIG-${U1.replace('366', '477')} gpu2=0,1"\n` +
        'gpu_activity nvml\ngpu_busy_threshold 50\n');
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /is ok/);
});

test('metrics_listen HOST:PORT and [V6]:PORT, redis_host a name or an address, pass -t', () => {
    for (const conf of ['metrics_listen 127.0.0.1:9187\nredis_host ::1\n',
                        'metrics_listen [::1]:65535\nredis_host redis.example\n']) {
        const r = worker(['-t'], conf);
        assert.equal(r.status, 0, r.err);
        assert.match(r.err, /is ok/);
    }
});

test('an unknown option is refused', () => {
    const r = worker(['--frobnicate']);
    assert.equal(r.status, 78);
    assert.match(r.err, /unknown option --frobnicate/);
});

test('--print-config shows every value and where it came from; secrets masked', () => {
    const r = worker(['--print-config'], 'redis_port 7000\nredis_password hunter2\n');
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /^redis_port\s+7000\s+# .*w\.conf:1/m);
    assert.match(r.out, /^heartbeat_interval\s+1s\s+# default/m);
    assert.doesNotMatch(r.out, /hunter2/);
});

test('conf/axon-worker.conf is the config table (--sample-config)', () => {
    const r = worker(['--sample-config']);
    assert.equal(r.status, 0);
    assert.equal(readFileSync(join(ROOT, 'conf/axon-worker.conf'), 'utf8'), r.out);
});

test('the heartbeat key: JSON with a TTL, refreshed', async () => {
    const hb = JSON.parse(s.redis('--raw', 'GET', 'axon:worker:heartbeat'));
    assert.equal(hb.pid, s.pid('worker'));
    // the newest migration's version (sql/NNN_*.sql)
    const newest = Math.max(...readdirSync(join(ROOT, 'sql')).map(f => /^(\d{3})_\w+\.sql$/.exec(f)?.[1]).filter(Boolean).map(Number));
    assert.equal(hb.schema, newest);
    const ttl = Number(s.redis('PTTL', 'axon:worker:heartbeat').replace(/\D/g, ''));
    assert.ok(ttl > 0 && ttl <= 3000, `ttl ${ttl}`);
    await waitFor(() => JSON.parse(s.redis('--raw', 'GET', 'axon:worker:heartbeat')).ts > hb.ts,
        'a newer heartbeat');
});

test('--migrate twice applies nothing the second time', () => {
    const r = spawnSync(WORKER, ['-c', join(s.dir, 'worker.conf'), '--migrate']);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString() + r.stderr.toString(), /nothing to apply/);
});

test('SIGHUP with a broken config keeps the one in force; SIGTERM exits 0', async () => {
    const conf = join(tmp, 'live.conf');
    writeFileSync(conf, readFileSync(join(s.dir, 'worker.conf')));
    const w = spawn(WORKER, ['-c', conf]);
    let err = '';
    w.stderr.on('data', d => { err += d; });
    const exited = new Promise(ok => w.on('exit', (code, sig) => ok({ code, sig })));
    await waitFor(() => /started/.test(err), 'worker start');

    writeFileSync(conf, 'no_such_key 1\n');
    w.kill('SIGHUP');
    await waitFor(() => /keeping the configuration in force/.test(err), 'reload refused');

    writeFileSync(conf, readFileSync(join(s.dir, 'worker.conf')) + 'log_level debug\n');
    w.kill('SIGHUP');
    await waitFor(() => /configuration .* in force/.test(err) && /\[debug\]/.test(err), 'reload to debug');

    // keys read at start only: the reload says so and keeps them (the
    // running sessions' containers are named with the prefix in force;
    // turned off, sessions would be left running unbilled, their release
    // refused; the minutes billed so far are of the billing_minute in force)
    const base = readFileSync(join(s.dir, 'worker.conf'), 'utf8');
    const set = (text, key, value) => new RegExp(`^${key} `, 'm').test(text)
        ? text.replace(new RegExp(`^${key} .*$`, 'm'), `${key} ${value}`)
        : `${text}${key} ${value}\n`;
    writeFileSync(conf, set(set(set(base, 'launcher_prefix', 'axgt-other-'), 'sessions', /^sessions off/m.test(base) ? 'on' : 'off'),
                            'billing_minute', /^billing_minute 2m/m.test(base) ? '3m' : '2m') + 'log_level debug\n');
    w.kill('SIGHUP');
    await waitFor(() => /launcher_prefix changed from "?axgt-[^ ]*"? to "?axgt-other-"?: it takes effect at the next start/.test(err),
        'the prefix kept');
    await waitFor(() => /sessions changed from \S+ to \S+: it takes effect at the next start/.test(err),
        'sessions kept on');
    // the minutes billed so far were counted in it
    await waitFor(() => /billing_minute changed from \S+ to \S+: it takes effect at the next start/.test(err),
        'billing_minute kept');

    w.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, err);
    assert.match(err, /exit 0/);
});
