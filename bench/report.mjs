// Turns the raw lines scripts/bench collects into the table it prints.
//
//   node bench/report.mjs RESULTS
//
// RESULTS holds one measurement a line, a kind then key=value pairs:
//   http target=T round=R kind=load|one rps=… p50_us=… p99_us=… requests=…
//        non2xx=… sockerr=… cpu_nginx=TICKS cpu_redis=TICKS [upstream_conns=N]
//        (T chp: configurable-http-proxy; cpu_nginx is its node process's)
//   rss target=T workers=N vmrss_kb=… anon_kb=…     (sums over the workers)
//   crypto KEY=VALUE                                 (bench_recover's output)
//   ir op=OP instructions=N                          (callgrind, one call)
//   queue target=T round=R jobs=N seconds=S jps=J    (scripts/bench-queue)
//   info KEY=VALUE                                  (date, cpus, clk_tck, …)
//   signin round=R signins=N errors=E secs=S cpu_nginx=TICKS cpu_redis=TICKS
//   challenge round=R challenges=N errors=E secs=S cpu_nginx=… cpu_redis=…
//   ws target=gated|plain|small|chp round=R mibs=… p50_us=… p99_us=…
//                                                    (bench/ws.mjs)
//   sessions bench=billing_tick round=R sessions=N due=D ms=… cpu_ms=…
//   sessions bench=claim_scheduled claims=N p50_ms=… p99_ms=… max_ms=…
//   sessions bench=claim_scheduled_flood claims=Q+F quiet_p50_ms=… quiet_p99_ms=… flood_p50_ms=… flood_p99_ms=… ratio=… payments=N answers=STATUS:N,…
//   sessions bench=claim_scheduled_hosts claims=A+B parallel=P one_p50_ms=… one_p99_ms=… two_p50_ms=… two_p99_ms=… ratio=… hosts=HOST:N,… double=N
//                                                    (bench/bench-sessions.mjs)
//
// Every ratio is axon's figure over the baseline's.  HTTP ratios are the
// median of the per-round ratios (each round runs every target once, back
// to back), so a slow minute of the machine hits both sides of a ratio; the
// figures in brackets are the medians of each side, so their quotient may
// differ a little from the ratio.

import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const http = [];
const rss = {};
const crypto = {};
const ir = {};
const info = {};
const signin = [];
const challenge = [];
const ws = [];
const queue = [];
const sessions = [];

for (const line of lines) {
    const [kind, ...pairs] = line.trim().split(/\s+/);
    const kv = Object.fromEntries(pairs.map((p) => {
        const i = p.indexOf('=');
        const v = p.slice(i + 1);
        return [p.slice(0, i), isNaN(Number(v)) ? v : Number(v)];
    }));
    if (kind === 'http') http.push(kv);
    else if (kind === 'rss') rss[kv.target] = kv;
    else if (kind === 'crypto') Object.assign(crypto, kv);
    else if (kind === 'ir') ir[kv.op] = kv.instructions;
    else if (kind === 'info') Object.assign(info, kv);
    else if (kind === 'signin') signin.push(kv);
    else if (kind === 'challenge') challenge.push(kv);
    else if (kind === 'ws') ws.push(kv);
    else if (kind === 'queue') queue.push(kv);
    else if (kind === 'sessions') sessions.push(kv);
}

const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const x = (r) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
const rps = (v) => `${Math.round(v)} rps`;
const ms = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`);
const us = (ns) => `${(ns / 1000).toFixed(2)} us`;
const mib = (kb) => `${(kb / 1024).toFixed(1)} MiB`;

const out = [];
const row = (label, text) => out.push(`${label.padEnd(52)} ${text}`);

function runs(target, kind) {
    return Object.fromEntries(http.filter((h) => h.target === target && h.kind === kind)
        .map((h) => [h.round, h]));
}

// CPU time per request, in us: nginx workers, and Redis (the gate's only)
const tick = 1e6 / (info.clk_tck || 100);
const cpu = (h) => (h.cpu_nginx + h.cpu_redis) * tick / h.requests;
const cpuNginx = (h) => h.cpu_nginx * tick / h.requests;
const cpuRedis = (h) => h.cpu_redis * tick / h.requests;

// paired: the median over rounds of f(a) / f(b), and the medians of f(a), f(b)
function paired(a, b, f) {
    const rounds = Object.keys(a).filter((r) => b[r]);
    if (rounds.length === 0) return null;
    return {
        ratio: median(rounds.map((r) => f(a[r]) / f(b[r]))),
        a: median(rounds.map((r) => f(a[r]))),
        b: median(rounds.map((r) => f(b[r]))),
    };
}

function httpRows(label, target, base) {
    const [al, bl] = [runs(target, 'load'), runs(base, 'load')];
    const [a1, b1] = [runs(target, 'one'), runs(base, 'one')];
    const r = paired(al, bl, (h) => h.rps);
    if (!r) return;
    const p = paired(al, bl, (h) => h.p99_us);
    row(label, `rps ${x(r.ratio)}  p99 ${x(p.ratio)}   ` +
        `(${target} ${rps(r.a)}, p99 ${ms(p.a)}; ${base} ${rps(r.b)}, p99 ${ms(p.b)})`);
    const m = paired(a1, b1, (h) => h.p50_us);
    const n = paired(a1, b1, (h) => h.p99_us);
    if (m) {
        row('  latency, one connection:', `p50 ${x(m.ratio)}  p99 ${x(n.ratio)}   ` +
            `(${target} ${ms(m.a)} / ${ms(n.a)}; ${base} ${ms(m.b)} / ${ms(n.b)})`);
    }
    const c = paired(al, bl, cpu);
    const cn = paired(al, bl, cpuNginx);
    const cr = paired(al, bl, cpuRedis);
    const redis = cr.a > 0 ? ` + Redis ${cr.a.toFixed(1)} us` : '';
    row('  CPU per request under load:', `${x(c.ratio)}  nginx only ${x(cn.ratio)}   ` +
        `(${target} ${cn.a.toFixed(1)} us${redis}; ${base} ${c.b.toFixed(1)} us)`);
}

function rssRow(label, target, base) {
    const a = rss[target];
    const b = rss[base];
    if (!a || !b) return;
    row(label, `${x(a.vmrss_kb / b.vmrss_kb)}  private ${x(a.anon_kb / b.anon_kb)}   ` +
        `(${target} ${mib(a.vmrss_kb)}, private ${mib(a.anon_kb)}; ` +
        `${base} ${mib(b.vmrss_kb)}, private ${mib(b.anon_kb)}; ` +
        `${a.workers}+${b.workers} workers)`);
}

if (http.length) out.push(`# ${info.date}  ${info.cpus} CPUs  wrk -t1: -c32 -d${info.duration}, -c1 -d${info.duration1}; ` +
    `${info.rounds} rounds; medians of per-round ratios`);

httpRows('gate GET /api/health vs plain nginx return 200:', 'gate', 'plain');
httpRows('gate GET /api/nope (JSON 404, no Redis) vs plain:', 'gate404', 'plain');
httpRows('nginx + module loaded, unused, vs plain nginx:', 'loaded', 'plain');
httpRows('gated proxy_pass vs the same, ungated:', 'gated', 'ungated');
httpRows('gated proxy_pass vs configurable-http-proxy:', 'gated', 'chp');

// upstream connections opened per request, under load: keep-alive is on
// where this is about 0
const conns = (t) => {
    const v = http.filter((h) => h.target === t && h.kind === 'load' && h.upstream_conns !== undefined)
        .map((h) => h.upstream_conns / h.requests);
    return v.length ? median(v) : null;
};
if (conns('gated') !== null) {
    row('  upstream connections opened per request:',
        ['gated', 'ungated', 'chp'].filter((t) => conns(t) !== null)
            .map((t) => `${t} ${conns(t).toFixed(4)}`).join(', '));
}
rssRow('nginx worker RSS, gate vs plain:', 'gate', 'plain');
rssRow('nginx worker RSS, module loaded unused vs plain:', 'loaded', 'plain');

if (crypto.axon_vs_raw) {
    row('ecrecover: axon_personal_recover vs raw secp256k1:',
        `${x(crypto.axon_vs_raw)}   (axon ${us(crypto.axon_ns)}, raw ${us(crypto.raw_ns)}; ` +
        `${crypto.msg_bytes}-byte message)`);
    row('  axon_ecrecover alone (no hex, no EIP-191) vs raw:',
        `${x(crypto.ecrecover_vs_raw2)}   (axon ${us(crypto.ecrecover_ns)}, raw ${us(crypto.raw2_ns)})`);
    row('keccak256 vs nettle sha3_256, 1 KiB, time:',
        `${x(crypto.keccak_vs_sha3)}   (axon ${us(crypto.keccak_ns)}, nettle ${us(crypto.sha3_ns)}; ` +
        `${Math.round(1024e3 / crypto.keccak_ns)} vs ${Math.round(1024e3 / crypto.sha3_ns)} MB/s)`);
}

if (ws.length) {
    const by = (t) => Object.fromEntries(ws.filter((w) => w.target === t).map((w) => [w.round, w]));
    const [g, p] = [by('gated'), by('plain')];
    const t = paired(g, p, (w) => w.mibs);
    const l = paired(g, p, (w) => w.p50_us);
    const l99 = paired(g, p, (w) => w.p99_us);
    row('WebSocket stream, axon_gate session vs plain proxy:',
        `${x(t.ratio)}   (gated ${t.a.toFixed(0)} MiB/s, plain ${t.b.toFixed(0)} MiB/s; 64 KiB messages)`);
    row('  echo latency, one message at a time:',
        `p50 ${l.a >= l.b ? '+' : ''}${(l.a - l.b).toFixed(1)} us (${x(l.ratio)})  p99 ${x(l99.ratio)}   ` +
        `(gated ${l.a.toFixed(0)} / ${l99.a.toFixed(0)} us; plain ${l.b.toFixed(0)} / ${l99.b.toFixed(0)} us)`);
    const versus = (label, a, b) => {
        const [ra, rb] = [by(a), by(b)];
        const tp = paired(ra, rb, (w) => w.mibs);
        const lp = paired(ra, rb, (w) => w.p50_us);
        if (!tp) return;
        row(label, `${x(tp.ratio)}   (${a} ${tp.a.toFixed(0)} MiB/s, ${b} ${tp.b.toFixed(0)} MiB/s; ` +
            `echo p50 ${lp.a.toFixed(0)} vs ${lp.b.toFixed(0)} us)`);
    };
    versus('WebSocket stream, gated vs configurable-http-proxy:', 'gated', 'chp');
    versus('  plain, proxy_buffer_size 64k vs nginx default:', 'plain', 'small');
}

if (signin.length && crypto.raw_ns) {
    // per core: sign-ins per nginx CPU-second against raw recoveries per
    // CPU-second (bench_recover runs on one core)
    const cpuNs = median(signin.map((s) => s.cpu_nginx * tick * 1000 / s.signins));
    const redisNs = median(signin.map((s) => s.cpu_redis * tick * 1000 / s.signins));
    const wall = median(signin.map((s) => s.signins / s.secs));
    row('verify-wallet sign-ins vs raw recover, per core:',
        `${x(crypto.raw_ns / cpuNs)}   (${Math.round(1e9 / cpuNs)} sign-ins per nginx CPU-second, ` +
        `${us(cpuNs)} each + Redis ${us(redisNs)}; raw ${Math.round(1e9 / crypto.raw_ns)} recovers/s)`);
    row('  sign-ins per second, 2 workers, 16 clients:',
        `${Math.round(wall)}/s   (the node client shares the 2 CPUs)`);
    if (challenge.length) {
        // the same HTTP request and Redis round trip without the recovery:
        // what a sign-in costs beyond it is the recovery and its parsing
        const floorNs = median(challenge.map((c) => c.cpu_nginx * tick * 1000 / c.challenges));
        row('  challenge alone (HTTP + Redis) vs raw recover:',
            `${x(crypto.raw_ns / floorNs)}   (${us(floorNs)} each; a sign-in costs ` +
            `${us(cpuNs - floorNs)} more, the recovery ${us(crypto.raw_ns)} of it)`);
    }
}

if (ir.axon && ir.raw) {
    row('instructions (callgrind), personal_recover vs raw:',
        `${x(ir.axon / ir.raw)}   (${ir.axon} vs ${ir.raw}; axon_ecrecover ${ir.ecrecover})`);
}
if (ir.keccak && ir.sha3) {
    row('instructions (callgrind), keccak256 vs sha3, 1 KiB:',
        `${x(ir.keccak / ir.sha3)}   (${ir.keccak} vs ${ir.sha3})`);
}

// the queue: jobs/s, per-round ratios as for HTTP
function queueRow(label, target, base) {
    const a = Object.fromEntries(queue.filter((q) => q.target === target).map((q) => [q.round, q]));
    const b = Object.fromEntries(queue.filter((q) => q.target === base).map((q) => [q.round, q]));
    const r = paired(a, b, (q) => q.jps);
    if (!r) return;
    row(label, `${x(r.ratio)}   (${target} ${Math.round(r.a)} jobs/s, ${base} ${Math.round(r.b)} jobs/s)`);
}

if (queue.length) {
    out.push(`# queue: ${info.queue_jobs} jobs per measurement, ${info.queue_rounds} rounds; medians of per-round ratios`);
    queueRow('queue jobs/s: 1 worker vs bare Redis Streams loop:', 'worker1', 'bare');
    queueRow('queue jobs/s: 2 workers vs bare Redis Streams loop:', 'worker2', 'bare');
    queueRow('queue jobs/s: 2 workers vs 1 worker:', 'worker2', 'worker1');
    // CPU per job, in us, medians over the rounds
    const per = (target, key) => {
        const v = queue.filter((q) => q.target === target && q[key] !== undefined)
            .map((q) => q[key] * tick / q.jobs);
        return v.length ? median(v) : null;
    };
    for (const t of ['worker1', 'worker2']) {
        const w = per(t, 'cpu_worker');
        if (w === null) continue;
        const pg = per(t, 'cpu_pg');
        const rd = per(t, 'cpu_redis');
        row(`  CPU per job, ${t === 'worker1' ? '1 worker' : '2 workers'}:`,
            `${(w + pg + rd).toFixed(0)} us: worker ${w.toFixed(0)} us, Postgres ${pg.toFixed(0)} us, ` +
            `Redis ${rd.toFixed(0)} us (bare loop: Redis ${per('bare', 'cpu_redis').toFixed(0)} us)`);
    }
}

// GPU sessions: absolute figures against their goals (tick < 1 s, claim p99 < 20 ms)
const ticks = sessions.filter((q) => q.bench === 'billing_tick');
const claims = sessions.find((q) => q.bench === 'claim_scheduled');
const flood = sessions.find((q) => q.bench === 'claim_scheduled_flood');
const hosts = sessions.find((q) => q.bench === 'claim_scheduled_hosts');
if (ticks.length || claims || flood || hosts) {
    out.push('# GPU sessions (bench/bench-sessions.mjs): absolute figures, against the goals');
    if (ticks.length) {
        row(`billing tick, ${ticks[0].sessions} running sessions:`,
            `${(median(ticks.map((q) => q.ms)) / 1000).toFixed(2)} s median of ${ticks.length} ` +
            `(${ticks.map((q) => (q.ms / 1000).toFixed(2)).join(', ')} s; ${ticks[0].due} minute(s) due each; goal < 1 s)`);
        if (ticks.every((q) => q.cpu_ms !== undefined)) {
            row('  its Postgres backend\'s CPU time:',
                `${(median(ticks.map((q) => q.cpu_ms)) / 1000).toFixed(2)} s median ` +
                `(${ticks.map((q) => (q.cpu_ms / 1000).toFixed(2)).join(', ')} s)`);
        }
    }
    if (claims) {
        row('claim -> scheduled, empty pool, launch excluded:',
            `p50 ${claims.p50_ms} ms, p99 ${claims.p99_ms} ms, max ${claims.max_ms} ms ` +
            `(${claims.claims} claims; goal p99 < 20 ms)`);
    }
    if (flood) {
        row('claim -> scheduled during an unfunded x402 flood:',
            `p99 ${flood.flood_p99_ms} ms against ${flood.quiet_p99_ms} ms quiet: ${flood.ratio}x ` +
            `(p50 ${flood.flood_p50_ms} / ${flood.quiet_p50_ms} ms; ${flood.claims} claims, ` +
            `${flood.payments} payments from fresh keys, answers ${flood.answers}; goal <= 1.5x)`);
    }
    if (hosts) {
        row('claim -> scheduled, 2 hosts of 2 workers vs 1 of 1:',
            `p99 ${hosts.two_p99_ms} ms against ${hosts.one_p99_ms} ms: ${hosts.ratio}x ` +
            `(p50 ${hosts.two_p50_ms} / ${hosts.one_p50_ms} ms; ${hosts.claims} claims, ${hosts.parallel} at once; ` +
            `per host ${hosts.hosts}; double assignments ${hosts.double}; goal <= 1.2x)`);
    }
}

console.log(out.join('\n'));
