// Turns the raw lines scripts/bench collects into the table it prints.
//
//   node bench/report.mjs RESULTS
//
// RESULTS holds one measurement a line, a kind then key=value pairs:
//   http target=T round=R rps=… p50_us=… p99_us=… requests=… non2xx=… sockerr=…
//   rss target=T workers=N vmrss_kb=… anon_kb=…     (sums over the workers)
//   crypto KEY=VALUE                                 (bench_recover's output)
//   ir op=OP instructions=N                          (callgrind, one call)
//   info KEY=VALUE
//
// Every ratio is axon's figure over the baseline's.  HTTP ratios are the
// median of the per-round ratios (each round runs every target once, back
// to back), so a slow minute of the machine hits both sides of a ratio.

import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const http = [];
const rss = {};
const crypto = {};
const ir = {};
const info = {};

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

function byTarget(t) {
    return Object.fromEntries(http.filter((h) => h.target === t).map((h) => [h.round, h]));
}

function httpRow(label, target, base) {
    const a = byTarget(target);
    const b = byTarget(base);
    const rounds = Object.keys(a).filter((r) => b[r]);
    if (rounds.length === 0) return;
    const rr = median(rounds.map((r) => a[r].rps / b[r].rps));
    const pr = median(rounds.map((r) => a[r].p99_us / b[r].p99_us));
    const am = (k) => median(rounds.map((r) => a[r][k]));
    const bm = (k) => median(rounds.map((r) => b[r][k]));
    row(label, `rps ${x(rr)}  p99 ${x(pr)}   ` +
        `(${target} ${rps(am('rps'))}, p99 ${ms(am('p99_us'))}; ` +
        `${base} ${rps(bm('rps'))}, p99 ${ms(bm('p99_us'))})`);
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

if (info.wrk) out.push(`# ${info.date || ''}  ${info.cpus || '?'} CPUs  wrk ${info.wrk.replace(/_/g, ' ')}, ` +
    `${info.rounds} rounds, medians`);

httpRow('gate GET /api/health vs plain nginx return 200:', 'gate', 'plain');
httpRow('  gate GET /api/nope (404 JSON, no Redis) vs plain:', 'gate404', 'plain');
httpRow('  gate /api/health vs gate /api/nope (Redis trip):', 'gate', 'gate404');
httpRow('nginx + module loaded, unused, vs plain nginx:', 'loaded', 'plain');
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

if (ir.axon && ir.raw) {
    row('instructions (callgrind), personal_recover vs raw:',
        `${x(ir.axon / ir.raw)}   (${ir.axon} vs ${ir.raw}; axon_ecrecover ${ir.ecrecover})`);
}
if (ir.keccak && ir.sha3) {
    row('instructions (callgrind), keccak256 vs sha3, 1 KiB:',
        `${x(ir.keccak / ir.sha3)}   (${ir.keccak} vs ${ir.sha3})`);
}

console.log(out.join('\n'));
