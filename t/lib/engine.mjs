// A container engine for tests: `podman system service` serving the Docker
// Engine API on a unix socket in the test's own directory, what the
// worker's launcher engine talks to (axon-worker/launcher_engine.c).  Two
// of them stand for two GPU hosts; both use the machine's one container
// store, so each host's containers are told apart by their prefix.
//
//   const e = new Engine(dir, 'a'); await e.start();  e.endpoint
//   await e.stop();    (the service only: its containers keep running)

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { ROOT, waitFor } from './stack.mjs';

export const CONTAINERS_CONF = join(ROOT, 'conf/podman/containers.conf');

export class Engine {
    constructor(dir, name) {
        this.socket = join(dir, `engine-${name}.sock`);
        this.endpoint = `unix://${this.socket}`;
        this.log = join(dir, `engine-${name}.log`);
        this.proc = null;
    }

    async start() {
        rmSync(this.socket, { force: true });
        this.proc = spawn('podman', ['system', 'service', '--time=0', this.endpoint], {
            env: { ...process.env, CONTAINERS_CONF },
            stdio: 'ignore',
        });
        const proc = this.proc;
        this.exited = new Promise(ok => proc.once('exit', ok));
        await waitFor(async () => (await this.get('/_ping')).status === 200, `engine ${this.socket}`, 30000);
    }

    async stop() {
        if (!this.proc) return;
        const proc = this.proc;
        this.proc = null;
        if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
            await this.exited;
            clearTimeout(t);
        }
        rmSync(this.socket, { force: true });
    }

    // one API call: { status, body } (status 0: nothing answered)
    get(path, method = 'GET') {
        return new Promise(ok => {
            const req = request({ socketPath: this.socket, path: `/v1.41${path}`, method }, res => {
                let body = '';
                res.on('data', d => { body += d; });
                res.on('end', () => ok({ status: res.statusCode, body }));
            });
            req.on('error', () => ok({ status: 0, body: '' }));
            req.end();
        });
    }
}
