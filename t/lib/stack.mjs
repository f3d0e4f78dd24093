// The test harness: each test file starts its own stack (PostgreSQL, Redis,
// axon-worker, nginx with the module) in a temp dir on free ports through
// scripts/axon-stack, the same script `make run` uses, and tears it down.
// Tearing down fails the test if a log shows [alert], [emerg] or a
// sanitizer report.
//
// new Stack({ chain: true }) also starts the local chain (ganache with the
// test tokens, see chain/deploy.mjs): s.chain is the stack's chain.json,
// s.rpc() a raw JSON-RPC call, s.mine(), s.snapshot()/s.revert() and
// s.stopChain()/s.startChain() drive the node.  Off by default: it costs
// a few seconds per stack.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, existsSync, rmSync, chmodSync, copyFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = process.env.AXON_BUILD || join(ROOT, 'build');
const STACK = join(ROOT, 'scripts/axon-stack');
const run = promisify(execFile);

// A port no listener holds now, and that this process has not handed out
// before: the kernel may give the port just closed to the next listen(0)
// (one stack in 600 had two of its five ports the same, which a stack
// with nginx on its Redis port does not survive), so each is asked until
// it is new.
const handedOut = new Set();
export async function freePort() {
    for (let tries = 0; tries < 100; tries++) {
        const port = await new Promise((ok, fail) => {
            const s = createServer();
            s.unref();
            s.on('error', fail);
            s.listen(0, '127.0.0.1', () => {
                const { port } = s.address();
                s.close(() => ok(port));
            });
        });
        if (!handedOut.has(port)) {
            handedOut.add(port);
            return port;
        }
    }
    throw new Error(`freePort: no new port in 100 tries (${handedOut.size} handed out)`);
}

// the session port pools this process's stacks were given (portPool)
const poolsHandedOut = new Set();

export function portIsFree(port) {
    return new Promise(ok => {
        const s = createServer();
        s.unref();
        s.on('error', () => ok(false));
        s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
    });
}

// The images a test stack's sessions launch, unless the environment names
// others: the test image on 8080 for desktop sessions (axon-stack's own
// default, the desktop image, it would build when missing), and the SSH
// image; named, axon-stack builds none.
export function testImages() {
    const ref = (name) => {
        const f = join(BUILD, 'images', `${name}.ref`);
        return existsSync(f) ? readFileSync(f, 'utf8').trim() : `axon-session-${name}:latest`;
    };
    return {
        AXON_SESSION_IMAGE: process.env.AXON_SESSION_IMAGE || ref('test'),
        AXON_SESSION_PORT: process.env.AXON_SESSION_PORT || '8080',
        AXON_SSH_IMAGE: process.env.AXON_SSH_IMAGE || ref('ssh'),
    };
}

// Log lines that fail a test wherever they appear.
const BAD = /\[(alert|emerg)\]|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

export function badLogLines(dir) {
    const found = [];
    if (!existsSync(dir)) return found;
    for (const f of readdirSync(dir)) {
        const text = readFileSync(join(dir, f), 'utf8');
        for (const line of text.split('\n')) {
            if (BAD.test(line)) found.push(`${f}: ${line}`);
        }
    }
    return found;
}

export class Stack {
    // opts.nginx(stack): text included in nginx's http {} block, for a
    // test's own servers and locations (it may use stack.port & co.)
    // opts.workerConf: lines added to the workers' config (AXON_WORKER_CONF)
    // opts.sessions: the worker runs GPU sessions (scheduler, billing, the
    // reconcile sweep's container listings); off unless a test needs them
    // opts.env: more environment for scripts/axon-stack (AXON_SESSION_IMAGE,
    // AXON_SESSION_PORT: the image the worker launches and its port; a key
    // set to undefined is not passed)
    constructor(opts = {}) {
        this.opts = opts;
        this.dir = mkdtempSync(join(tmpdir(), 'axon-t-'));
        chmodSync(this.dir, 0o755);
        this.logs = join(this.dir, 'logs');
    }

    async start() {
        this.port = await freePort();
        this.redisPort = await freePort();
        this.pgPort = await freePort();
        this.env = {
            ...process.env,
            AXON_VAR: this.dir,
            AXON_BUILD: BUILD,
            AXON_PORT: String(this.port),
            AXON_REDIS_PORT: String(this.redisPort),
            AXON_PG_PORT: String(this.pgPort),
            AXON_PG_FSYNC: 'off',
            ...(this.opts.redisPassword ? { AXON_REDIS_PASSWORD: this.opts.redisPassword } : {}),
            // this stack's containers only: the reconcile sweep of one
            // test's worker must not remove another test's
            AXON_WORKER_CONF: `launcher_prefix axgt-${basename(this.dir)}-\n`
                + (this.opts.sessions ? await this.portPool() : 'sessions off\n')
                + (this.opts.workerConf || ''),
            AXON_CHAIN: this.opts.chain ? '1' : '0',
            ...testImages(),
            ...(this.opts.env || {}),
        };
        if (this.opts.chain) {
            this.chainPort = await freePort();
            this.env.AXON_CHAIN_PORT = String(this.chainPort);
        }
        if (this.opts.nginx) {
            this.env.AXON_NGINX_INCLUDE = join(this.dir, 'test-nginx.conf');
            writeFileSync(this.env.AXON_NGINX_INCLUDE, await this.opts.nginx(this));
        }
        try {
            await this.stack('up');
        } catch (e) {
            // what did start stopped (the caller has no stack to stop);
            // the directory, with the logs the error names, kept
            await this.stack('down').catch(() => {});
            throw e;
        }
        // a worker that runs sessions publishes the profiles once it is up:
        // a claim before that is refused (503 worker_unavailable)
        if (this.opts.sessions) {
            await waitFor(() => this.redis('EXISTS', 'axon:profiles') === '(integer) 1',
                'the worker published its profiles');
        }
        if (this.opts.chain) {
            this.chain = JSON.parse(readFileSync(join(this.dir, 'chain.json'), 'utf8'));
        }
        return this;
    }

    // Another gate on this stack's Redis: nginx with the module on its own
    // port and directory, configured as this one's and answering to its
    // name in sign-in messages (as an operator runs several behind one
    // name).  Its stop() stops only its nginx.
    async gate() {
        const g = new Stack({ ...this.opts, gateOf: this });
        g.port = await freePort();
        for (const k of ['redisPort', 'pgPort', 'chainPort', 'chain']) g[k] = this[k];
        g.env = { ...this.env, AXON_VAR: g.dir, AXON_PORT: String(g.port),
                  AXON_SIWE_PORT: String(this.port) };
        for (const f of ['chain-nginx.conf', 'chain.json', 'chain-worker.conf']) {
            if (existsSync(join(this.dir, f))) copyFileSync(join(this.dir, f), join(g.dir, f));
        }
        if (this.opts.nginx) {
            g.env.AXON_NGINX_INCLUDE = join(g.dir, 'test-nginx.conf');
            writeFileSync(g.env.AXON_NGINX_INCLUDE, await this.opts.nginx(g));
        }
        await g.stack('start', 'nginx');
        return g;
    }

    // The session port pool (port_pool_start, port_pool_size) unless the
    // test sets it: a range of its own, below the ephemeral ports the
    // other servers' free ports come from, every port of it free now;
    // stacks of tests that run at once pick different ranges.
    async portPool() {
        const conf = this.opts.workerConf || '';
        const size = Number((conf.match(/^port_pool_size\s+(\d+)/m) || [])[1] || 16);
        let lines = conf.match(/^port_pool_size\s/m) ? '' : `port_pool_size ${size}\n`;
        if (conf.match(/^port_pool_start\s/m)) return lines;
        for (;;) {
            const start = 20000 + 32 * Math.floor(Math.random() * 360);
            // another stack of this process may have the range without
            // its containers on it yet (freePort's reason)
            if (poolsHandedOut.has(start)) continue;
            const free = await Promise.all(Array.from({ length: size }, (_, i) => portIsFree(start + i)));
            if (free.every(Boolean)) {
                poolsHandedOut.add(start);
                this.portPoolStart = start;
                return lines + `port_pool_start ${start}\n`;
            }
        }
    }

    // ---- the local chain (new Stack({ chain: true })) ----

    get chainUrl() { return `http://127.0.0.1:${this.chainPort}`; }

    // A raw JSON-RPC call to the node; throws on a JSON-RPC error.  One
    // connection per call, never a kept-alive one: ganache closes an idle
    // connection after 5 s, and fetch's pool, whose expiry timer a test's
    // synchronous psql or redis-cli call can hold up, may send on one the
    // node has just closed ('fetch failed', seen under two suites at once).
    async rpc(method, params = []) {
        const payload = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
        const text = await new Promise((ok, fail) => {
            const req = httpRequest(this.chainUrl, {
                method: 'POST', agent: false,
                headers: { 'content-type': 'application/json',
                           'content-length': Buffer.byteLength(payload) },
            }, (res) => {
                let data = '';
                res.setEncoding('utf8');
                res.on('data', (c) => { data += c; });
                res.on('end', () => ok(data));
                res.on('error', fail);
            });
            req.on('error', fail);
            req.end(payload);
        });
        const body = JSON.parse(text);
        if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
        return body.result;
    }

    async blockNumber() { return Number(await this.rpc('eth_blockNumber')); }

    // Mines n empty blocks at once.
    async mine(n = 1) { await this.rpc('evm_mine', [{ blocks: n }]); }

    // evm_snapshot / evm_revert: what a reorg test rolls the chain back with.
    async snapshot() { return this.rpc('evm_snapshot'); }
    async revert(id) {
        if (!await this.rpc('evm_revert', [id])) throw new Error(`evm_revert ${id} failed`);
    }

    // The node down and up again (its state is kept in $AXON_VAR/chain).
    async stopChain() { await this.stack('stop', 'chain'); }
    async startChain() { await this.stack('start', 'chain'); }

    // An ethers provider on the node, and a Wallet for each demo wallet.
    async ethers() {
        const { JsonRpcProvider, Wallet } = await import('ethers');
        if (!this.provider) {
            this.provider = new JsonRpcProvider(this.chainUrl, undefined,
                { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
            this.provider.pollingInterval = 50;
        }
        return {
            provider: this.provider,
            wallets: this.chain.demo_wallets.map(w => new Wallet(w.private_key, this.provider)),
        };
    }

    async stack(...args) {
        try {
            return await run(STACK, args, { env: this.env });
        } catch (e) {
            // what it said last (why it stopped) first: a long report is
            // cut at its end
            const said = e.stderr || e.message;
            const last = said.trimEnd().split('\n').slice(-4).join('\n');
            throw new Error(`axon-stack ${args.join(' ')} failed:\n${last}\n-- all it printed:\n${said}`);
        }
    }

    url(path) { return `http://127.0.0.1:${this.port}${path}`; }

    async fetch(path, opts) { return fetch(this.url(path), opts); }

    async json(path, opts) {
        const res = await this.fetch(path, opts);
        const text = await res.text();
        let body;
        try { body = JSON.parse(text); } catch { body = text; }
        return { status: res.status, headers: res.headers, body };
    }

    // Signs in as wallet w (an ethers Wallet): challenge, personal_sign,
    // verify.  Returns the verify answer's body ({token, wallet, expires_at}).
    async signIn(w, headers = {}) {
        const c = await this.json(`/api/auth/challenge?address=${w.address}`, { headers });
        if (c.status !== 200) throw new Error(`challenge: ${c.status} ${JSON.stringify(c.body)}`);
        const signature = await w.signMessage(c.body.message);
        const v = await this.json('/api/auth/verify-wallet', {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify({ message: c.body.message, signature }),
        });
        if (v.status !== 200) throw new Error(`verify-wallet: ${v.status} ${JSON.stringify(v.body)}`);
        return v.body;
    }

    // Starts Redis again and waits until each nginx worker process (2) has
    // reconnected, so that no request lands on one still backing off.
    async startRedis() {
        const connected = () => (this.log('nginx-error.log').match(/axon: redis: connected to/g) || []).length;
        const before = connected();
        await this.stack('start', 'redis');
        await waitFor(() => connected() >= before + 2, 'both nginx workers back on Redis');
    }

    // redis-cli's environment: the password, when the stack has one
    redisEnv() {
        return this.opts.redisPassword
            ? { ...process.env, REDISCLI_AUTH: this.redisAuth ?? this.opts.redisPassword } : process.env;
    }

    redis(...args) {
        return execFileSync('redis-cli', ['-p', String(this.redisPort), '--no-raw', ...args],
            { env: this.redisEnv() }).toString().trim();
    }

    // The job stream: queued (its length: a done job leaves the stream)
    // and taken by a worker, not yet acknowledged (XPENDING's count, the
    // first line of its summary), read through one redis-cli: tests poll it
    jobs() {
        const [queued, taken] = this.redisPipe(['XLEN axon:jobs', 'XPENDING axon:jobs axon-workers']);
        return { queued: Number(queued), taken: Number(taken) };
    }

    // no job queued nor taken
    jobsDone() {
        const j = this.jobs();
        return j.queued === 0 && j.taken === 0;
    }

    // many commands, one a line, through one redis-cli: its answers, one a line
    redisPipe(lines) {
        return execFileSync('redis-cli', ['-p', String(this.redisPort)],
            { input: lines.join('\n') + '\n', maxBuffer: 64 << 20, env: this.redisEnv() })
            .toString().split('\n').slice(0, lines.length);
    }

    // A query's output; an error fails the test, with the query
    sql(q) {
        const r = this.psql(q);
        if (!r.ok) throw new Error(`psql: ${r.err}\n  in: ${q}`);
        return r.out;
    }

    // The JSON API as a wallet's token (none: anonymous); a body is sent
    // as JSON, or as it is when a string
    api(path, token, method = 'GET', body) {
        return this.json(path, {
            method,
            headers: {
                ...(token ? { authorization: `Bearer ${token}` } : {}),
                ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
        });
    }

    psql(sql) {
        const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', 'axon',
            '-d', 'axon', '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
        return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
    }

    log(name) {
        const p = join(this.logs, name);
        return existsSync(p) ? readFileSync(p, 'utf8') : '';
    }

    pid(name) { return Number(readFileSync(join(this.dir, 'run', `${name}.pid`), 'utf8')); }

    // The wallets' home volumes this stack's worker made (labelled with
    // the stack, as its containers are): home_keep would keep them days.
    removeHomes() {
        const env = { ...process.env, CONTAINERS_CONF: join(ROOT, 'conf/podman/containers.conf') };
        const ls = spawnSync('podman', ['volume', 'ls', '-q', '--filter', `label=axon.stack=${this.dir}`], { env });
        const names = (ls.stdout || '').toString().split('\n').filter(Boolean);
        if (names.length) spawnSync('podman', ['volume', 'rm', '-f', ...names], { env });
    }

    // Stops everything; throws if a log has [alert]/[emerg]/sanitizer lines.
    async stop() {
        if (!this.env) return;
        this.provider?.destroy();
        if (this.opts.gateOf) {
            await this.stack('stop', 'nginx').catch(() => {});
        } else {
            await this.stack('down').catch(() => {});
            if (this.opts.sessions) this.removeHomes();
        }
        const bad = badLogLines(this.logs);
        if (bad.length === 0 && !process.env.AXON_KEEP) {
            rmSync(this.dir, { recursive: true, force: true });
        }
        if (bad.length) {
            // nginx's alerts at a stop it had to force: what it still held
            const held = this.log('nginx-stop.log');
            throw new Error(`bad log lines (kept ${this.dir}):\n${bad.join('\n')}` +
                            (held ? `\n${held}` : ''));
        }
    }
}

// Polls fn until it returns a truthy value; the limit is generous, this is
// a wait, not a timed assertion.
export async function waitFor(fn, what, limitMs = 60000) {
    const until = Date.now() + limitMs;
    let last;
    for (;;) {
        last = await fn();
        if (last) return last;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise(r => setTimeout(r, 50));
    }
}
