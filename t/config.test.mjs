// nginx -t on configurations with axon_* mistakes: each fails, naming the
// directive.  Runs the stock /usr/sbin/nginx with the built module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD, ROOT } from './lib/stack.mjs';

// The sign-in origin every configuration with axon_api needs; left out
// where a test sets either directive itself.
const SIWE = 'axon_siwe_domain gate.example; axon_siwe_uri https://gate.example/;';

function nginxT(http, server = '', location = '', siwe = SIWE) {
    if (/axon_siwe_(domain|uri)/.test(http + server + location)) siwe = '';
    return nginxTest(`
load_module ${BUILD}/ngx_http_axon_module.so;
error_log stderr;
events {}
http {
    access_log off;
    ${siwe}
    ${http}
    server {
        listen 127.0.0.1:1;
        ${server}
        location /api/ { axon_api; ${location} }
    }
}
`);
}

function nginxTest(conf) {
    const dir = mkdtempSync(join(tmpdir(), 'axon-conf-'));
    mkdirSync(join(dir, 'logs'));
    conf = conf.replace('events {}', `pid ${dir}/nginx.pid;\nevents {}`)
        .replace(/http \{/, `http {
    client_body_temp_path ${dir}/tmp;
    proxy_temp_path ${dir}/tmp;
    fastcgi_temp_path ${dir}/tmp;
    uwsgi_temp_path ${dir}/tmp;
    scgi_temp_path ${dir}/tmp;`).replaceAll('DIR', dir);
    writeFileSync(join(dir, 'nginx.conf'), conf);
    // through axon-stack, which preloads the sanitizer runtime when needed
    const r = spawnSync(join(ROOT, 'scripts/axon-stack'),
        ['nginx', '-t', '-p', dir, '-c', join(dir, 'nginx.conf')],
        { env: { ...process.env, AXON_VAR: dir, ASAN_OPTIONS: 'detect_leaks=0' } });
    rmSync(dir, { recursive: true, force: true });
    return { ok: r.status === 0, out: r.stderr.toString() };
}

test('a good configuration passes', () => {
    const r = nginxT('axon_redis 127.0.0.1:6379; axon_redis_timeout 500ms; axon_redis_password "s3cret pass";');
    assert.ok(r.ok, r.out);
});

test('unix socket address is accepted', () => {
    const r = nginxT('axon_redis unix:/run/redis/redis.sock;');
    assert.ok(r.ok, r.out);
});

const X402 = 'axon_x402_network eip155:8453; axon_x402_asset 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "USD Coin" 2; axon_x402_pay_to 0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0; axon_x402_price 16667;';

const bad = [
    ['a misspelled directive', 'axon_rediss 127.0.0.1:6379;', '', /unknown directive "axon_rediss"/],
    ['a bad timeout', 'axon_redis_timeout fast;', '', /"axon_redis_timeout" directive invalid value/],
    ['a zero timeout', 'axon_redis_timeout 0;', '', /"axon_redis_timeout" directive must be greater than 0/],
    ['a bad redis address', 'axon_redis 127.0.0.1:99999;', '', /invalid port in "127.0.0.1:99999" of the "axon_redis" directive/],
    ['axon_redis twice', 'axon_redis 127.0.0.1:1; axon_redis 127.0.0.1:2;', '', /"axon_redis" directive is duplicate/],
    ['axon_redis without a value', 'axon_redis;', '', /invalid number of arguments in "axon_redis" directive/],
    ['axon_api with an argument', '', 'location /x/ { axon_api on; }', /invalid number of arguments in "axon_api" directive/],
    ['axon_api in a regex location', '', 'location ~ ^/y/ { axon_api; }', /"axon_api" directive cannot be used in a regex location/],
    // one content handler a location: the last one set took the other's place
    ['axon_api where axon_metrics answers', '', 'location /m/ { axon_metrics; axon_api; }', /"axon_api" directive is in a location that has another handler/],
    ['axon_metrics where axon_x402_discovery answers', '', 'location /d/ { axon_x402_discovery; axon_metrics; }', /"axon_metrics" directive is in a location that has another handler \(axon_api, axon_metrics, axon_x402_discovery, proxy_pass\.\.\.\)/],
    ['axon_metrics twice', '', 'location /m/ { axon_metrics; axon_metrics; }', /"axon_metrics" directive is duplicate/],
    ['axon_x402_discovery where axon_api answers', '', 'location /e/ { axon_api; axon_x402_discovery; }', /"axon_x402_discovery" directive is in a location that has another handler/],
    ['a statement EIP-4361 does not allow', 'axon_siwe_statement "100% <b>";', '', /"axon_siwe_statement" directive has a character EIP-4361 does not allow/],
    ['a relative SIWE URI', 'axon_siwe_domain gate.example; axon_siwe_uri /login;', '', /"axon_siwe_uri" directive must be an http:\/\/ or https:\/\/ URI, such as https:\/\/gate.example\//],
    ['a SIWE URI of another scheme', 'axon_siwe_domain gate.example; axon_siwe_uri javascript://gate.example/;', '', /"axon_siwe_uri" directive must be an http:\/\/ or https:\/\/ URI/],
    ['a SIWE domain with a port past 65535', 'axon_siwe_domain gate.example:70000; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6 address in brackets, the port 1 to 65535\), not "gate.example:70000"/],
    ['a SIWE domain with port 0', 'axon_siwe_domain gate.example:0; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6/],
    ['a SIWE domain with an empty port', 'axon_siwe_domain gate.example:; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6/],
    ['a SIWE domain with two ports', 'axon_siwe_domain gate.example:1:2; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6/],
    ['an IPv6 SIWE domain without brackets', 'axon_siwe_domain ::1; axon_siwe_uri http://[::1]/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6/],
    ['a SIWE domain with a stray bracket', 'axon_siwe_domain [::1]x; axon_siwe_uri http://[::1]/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT \(an IPv6/],
    ['a SIWE domain with a newline', 'axon_siwe_domain "a\nb"; axon_siwe_uri https://a/;', '', /"axon_siwe_domain" directive must be one line/],
    ['a SIWE domain with a scheme', 'axon_siwe_domain https://gate.example; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT, such as gate.example.com, not "https:\/\/gate.example"/],
    ['a SIWE domain with a path', 'axon_siwe_domain gate.example/app; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" must be HOST or HOST:PORT/],
    ['a SIWE domain named twice', 'axon_siwe_domain gate.example GATE.example; axon_siwe_uri https://gate.example/;', '', /"axon_siwe_domain" directive names a domain twice/],
    ['axon_siwe_domain twice', 'axon_siwe_domain a.example; axon_siwe_domain b.example; axon_siwe_uri https://a.example/;', '', /"axon_siwe_domain" directive is duplicate/],
    // the sign-in origin never comes from the request: the API needs both
    ['the API without axon_siwe_domain', 'axon_siwe_uri https://gate.example/;', '', /"axon_api" needs "axon_siwe_domain"/],
    ['the API without axon_siwe_uri', 'axon_siwe_domain gate.example;', '', /"axon_api" needs "axon_siwe_uri"/],
    ['a chain id of 0', 'axon_chain_id 0;', '', /"axon_chain_id" directive must be a positive integer/],
    ['a token lifetime under a minute', 'axon_token_ttl 5s;', '', /"axon_token_ttl" directive must be at least 1m/],
    ['a body limit over 1m', 'axon_body_max_size 2m;', '', /"axon_body_max_size" directive must be between 1k and 1m/],
    ['axon_redis inside a server', '', 'axon_redis 127.0.0.1:1;', /"axon_redis" directive is not allowed here/],
    ['a token cache too small', 'axon_token_cache 4k;', '', /"axon_token_cache" size "4k" is invalid: it must be at least 32k/],
    ['a token cache size that is no size', 'axon_token_cache big;', '', /"axon_token_cache" size "big" is invalid/],
    ['a token cache valid= of 0', 'axon_token_cache 1m valid=0;', '', /"axon_token_cache" valid= must be a time between 1ms and 1h, not "0"/],
    ['a token cache valid= over an hour', 'axon_token_cache 1m valid=2h;', '', /"axon_token_cache" valid= must be a time between 1ms and 1h/],
    ['a token cache with an unknown parameter', 'axon_token_cache 1m ttl=5s;', '', /invalid parameter "ttl=5s" of "axon_token_cache"/],
    ['a token cache in a server', '', 'axon_token_cache 1m;', /"axon_token_cache" directive is not allowed here/],
    ['axon_gate with a bad value', '', 'location /g/ { axon_gate yes; }', /"axon_gate" directive must be "on", "off" or "session"/],
    ['an activity interval under a second', '', 'location /g/ { axon_gate session; axon_activity_interval 100ms; }', /"axon_activity_interval" directive must be at least 1s/],
    ['an x402 network that is not eip155:N or a name', 'axon_x402_network mainnet;', '', /"axon_x402_network" directive must be eip155:CHAIN_ID \(eip155:8453 is Base\) or a name of x402 version 1/],
    ['an x402 network of chain 0', 'axon_x402_network eip155:0;', '', /"axon_x402_network" directive must be eip155:CHAIN_ID/],
    ['an x402 asset with a bad address', 'axon_x402_asset 0x1234 "USD Coin" 2;', '', /"axon_x402_asset" directive needs the token's address/],
    ['an x402 asset with a wrong checksum', 'axon_x402_asset 0x833589FCD6eDb6E08f4c7C32D4f71b54bdA02913 "USD Coin" 2;', '', /"axon_x402_asset" directive needs the token's address/],
    ['an x402 asset without its EIP-712 version', 'axon_x402_asset 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "USD Coin";', '', /invalid number of arguments in "axon_x402_asset" directive/],
    ['an x402 asset with an empty EIP-712 name', 'axon_x402_asset 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "" 2;', '', /"axon_x402_asset" directive has a bad EIP-712 name/],
    ['an x402 payTo of the zero address', 'axon_x402_pay_to 0x0000000000000000000000000000000000000000;', '', /"axon_x402_pay_to" directive must be the revenue wallet/],
    ['an x402 price of 0', 'axon_x402_price 0;', '', /"axon_x402_price" directive must be a positive integer/],
    ['an x402 price that is no number', 'axon_x402_price 0.01;', '', /"axon_x402_price" directive must be a positive integer/],
    ['x402 minutes of 0', 'axon_x402_minutes 30 0;', '', /"axon_x402_minutes": "0" is not a number of minutes from 1 to 10080/],
    ['x402 minutes given twice', 'axon_x402_minutes 30 30;', '', /"axon_x402_minutes" directive names a duration twice/],
    ['an x402 max timeout under 10s', X402 + ' axon_x402_max_timeout 5s;', '', /"axon_x402_max_timeout" directive must be between 10s and 1h/],
    ['an x402 wait over 5m', X402 + ' axon_x402_wait 10m;', '', /"axon_x402_wait" directive must be at most 5m/],
    ['x402 without a network', 'axon_x402_price 100;', '', /"axon_x402_network"/],
    ['x402 version 1 without a network', 'axon_x402_v1 on;', '', /"axon_x402_v1" need "axon_x402_network"/],
    // what the page gives the wallet to add the chain: http(s) URLs only
    ['a chain RPC that is no URL', 'axon_chain_rpc_url notaurl;', '', /"axon_chain_rpc_url" directive must be an http:\/\/ or https:\/\/ URL/],
    ['a chain explorer of another scheme', "axon_chain_explorer 'javascript:alert(1)';", '', /"axon_chain_explorer" directive must be an http:\/\/ or https:\/\/ URL/],
    ['x402 without an asset', 'axon_x402_network eip155:1; axon_x402_pay_to 0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0; axon_x402_price 1;', '', /"axon_x402_network" needs "axon_x402_asset"/],
    ['x402 without payTo', 'axon_x402_network eip155:1; axon_x402_asset 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "USD Coin" 2; axon_x402_price 1;', '', /"axon_x402_network" needs "axon_x402_pay_to"/],
    ['x402 without a price', 'axon_x402_network eip155:1; axon_x402_asset 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "USD Coin" 2; axon_x402_pay_to 0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0;', '', /"axon_x402_network" needs "axon_x402_price"/],
    ['x402 version 1 on a chain it has no name for', X402.replace('eip155:8453', 'eip155:1337') + ' axon_x402_v1 on;', '', /"axon_x402_v1" needs a network that x402 version 1 names \(base, base-sepolia, polygon, \.\.\.\): eip155:1337 has no name there/],
    ['x402 network twice', 'axon_x402_network eip155:1; axon_x402_network eip155:2;', '', /"axon_x402_network" directive is duplicate/],
    ['axon_x402_network in a location', '', 'location /x/ { axon_x402_network eip155:1; }', /"axon_x402_network" directive is not allowed here/],
    ['axon_x402_discovery with a relative path', '', 'location = /.well-known/x402 { axon_x402_discovery api/x402; }', /"axon_x402_discovery" directive takes the path/],
    ['a relative login page', '', 'location /g/ { axon_gate on; axon_gate_login login.html; }', /"axon_gate_login" directive must be a path \(\/login.html\) or an absolute URL/],
];

test('the sign-in origin: one domain or several, in http, a server or the API\'s location', () => {
    for (const [http, server, location] of [
        ['axon_siwe_domain gate.example.com; axon_siwe_uri https://gate.example.com/;', '', ''],
        ['axon_siwe_domain 127.0.0.1:6080 localhost:6080 [::1]:6080 [::1] gate.example:65535; axon_siwe_uri http://127.0.0.1:6080/;', '', ''],
        ['axon_siwe_uri https://gate.example.com/;', 'axon_siwe_domain gate.example.com;', ''],
        ['', '', 'axon_siwe_domain gate.example.com; axon_siwe_uri https://gate.example.com/;'],
    ]) {
        const r = nginxT(http, server, location);
        assert.ok(r.ok, `${http} ${server} ${location}: ${r.out}`);
    }
    // without the API nothing needs them
    const r = nginxTest(`
load_module ${BUILD}/ngx_http_axon_module.so;
error_log stderr;
events {}
http { access_log off; server { listen 127.0.0.1:1; location / { axon_gate on; } } }
`);
    assert.ok(r.ok, r.out);
});

test('a value out of its bounds is named at its own line, not at the end of the block', () => {
    // nginxTest adds a line before "events" and five after "http {": the
    // directive is on line 17 (the end of the block, where a merge checks, 20)
    const r = nginxTest(`
load_module ${BUILD}/ngx_http_axon_module.so;
error_log stderr;
events {}
http {
    ${SIWE}
    server {
        listen 127.0.0.1:1;
        location /g/ {
            axon_gate session;
            axon_activity_interval 500ms;
        }
    }
}
`);
    assert.equal(r.ok, false);
    assert.match(r.out, /"axon_activity_interval" directive must be at least 1s in \S+nginx\.conf:17\n/);
});

// conf/axon.conf as an operator includes it (its access log moved here)
function shipped(extra) {
    const conf = readFileSync(join(ROOT, 'conf/axon.conf'), 'utf8')
        .replace(/\/var\/log\/nginx\/axon-access\.log/, 'DIR/access.log');
    return nginxTest(`
load_module ${BUILD}/ngx_http_axon_module.so;
error_log stderr;
events {}
http {
${conf}
${extra}
}
`);
}

test('conf/axon.conf as shipped: nginx -t asks for the sign-in origin; set, it passes', () => {
    let r = shipped('');
    assert.equal(r.ok, false, 'nginx -t must fail');
    assert.match(r.out, /\[emerg\] .*"axon_api" needs "axon_siwe_domain"/);
    r = shipped('axon_siwe_domain gate.example.com; axon_siwe_uri https://gate.example.com/;');
    assert.ok(r.ok, r.out);
});

test('axon_gate and axon_token_cache pass in their places', () => {
    const r = nginxT('axon_token_cache 64k valid=5s; axon_gate off;',
                     'axon_gate_login https://gate.example/login;',
                     'location /api/me { axon_gate on; }');
    assert.ok(r.ok, r.out);
});

test('x402 passes in http and in a server, with discovery', () => {
    let r = nginxT(X402 + ' axon_x402_minutes 30 60 120; axon_x402_max_timeout 300s; axon_x402_wait 2s;',
                   'location = /.well-known/x402 { axon_x402_discovery; }');
    assert.ok(r.ok, r.out);
    r = nginxT('', X402 + ' location = /.well-known/x402 { axon_x402_discovery /api/x402/session; }');
    assert.ok(r.ok, r.out);
    // version 1: a network by its version 1 name, and X-PAYMENT taken
    r = nginxT(X402.replace('eip155:8453', 'base-sepolia') + ' axon_x402_v1 on;');
    assert.ok(r.ok, r.out);
    r = nginxT(X402 + ' axon_x402_v1 on;');
    assert.ok(r.ok, r.out);
});

for (const [what, http, server, expect] of bad) {
    test(`nginx -t rejects ${what}, naming it`, () => {
        const r = nginxT(http, server);
        assert.equal(r.ok, false, 'nginx -t must fail');
        assert.match(r.out, expect);
        assert.match(r.out, /\[emerg\]/);
    });
}
