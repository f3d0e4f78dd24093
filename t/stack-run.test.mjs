// What scripts/axon-stack gives the worker to launch: `make run` and
// `make up` the desktop image (noVNC on 6080) and the SSH image, a test
// stack (t/lib/stack.mjs) the test image on 8080 unless it names another;
// and the "what next" block `up` prints with the local chain.  Reads the
// generated worker.conf: no session is launched (t/desktop-browser.test.mjs
// launches the desktop).
//
// The run-like stack skips itself, saying so, when the desktop or SSH
// image is not built (make images): axon-stack would build it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, BUILD } from './lib/stack.mjs';
import { sessionImage } from './lib/images.mjs';

const desktop = sessionImage('desktop');
const ssh = sessionImage('ssh');
const stacks = [];
after(() => Promise.all(stacks.map(s => s.stop())));

// the launcher keys of a stack's worker.conf, the last line of each
function launcher(s) {
    const conf = {};
    for (const line of readFileSync(join(s.dir, 'worker.conf'), 'utf8').split('\n')) {
        const m = line.match(/^(launcher_(?:image|port|ssh_image))\s+"?([^"]*)"?$/);
        if (m) conf[m[1]] = m[2];
    }
    return conf;
}

function ref(name) {
    return readFileSync(join(BUILD, 'images', `${name}.ref`), 'utf8').trim();
}

test('a test stack launches the test image on 8080 unless it names another', async () => {
    const s = new Stack();
    stacks.push(s);
    await s.start();
    const own = { launcher_ssh_image: s.env.AXON_SSH_IMAGE };
    if (!process.env.AXON_SESSION_IMAGE) {
        assert.equal(s.env.AXON_SESSION_IMAGE, ref('test'));
        assert.equal(s.env.AXON_SESSION_PORT, '8080');
        assert.equal(s.env.AXON_SSH_IMAGE, ref('ssh'));
    }
    assert.deepEqual(launcher(s), { launcher_image: s.env.AXON_SESSION_IMAGE,
                                    launcher_port: s.env.AXON_SESSION_PORT, ...own });

    // a test's own image and port (t/desktop-browser.test.mjs's way)
    s.env.AXON_SESSION_IMAGE = 'localhost/axon-some-image:tag';
    s.env.AXON_SESSION_PORT = '7000';
    await s.stack('stop', 'worker');
    await s.stack('start', 'worker');
    assert.deepEqual(launcher(s), { launcher_image: 'localhost/axon-some-image:tag',
                                    launcher_port: '7000', ...own });
});

test('make run/up: the desktop image on 6080 and the SSH image, and what to do next',
     { skip: desktop.skip || ssh.skip }, async () => {
    // axon-stack's own defaults, as `make run` has them
    const s = new Stack({ chain: true, env: { AXON_SESSION_IMAGE: undefined,
        AXON_SESSION_PORT: undefined, AXON_SSH_IMAGE: undefined } });
    stacks.push(s);
    await s.start();
    assert.deepEqual(launcher(s), { launcher_image: desktop.ref, launcher_port: '6080',
                                    launcher_ssh_image: ssh.ref });

    // `up` again on the running stack: what it tells the operator
    const { stderr } = await s.stack('up');
    assert.match(stderr, new RegExp(`sessions: desktop ${desktop.ref} on port 6080, SSH ${ssh.ref}`));
    assert.doesNotMatch(stderr, /session-image/, 'nothing was built');
    const w = s.chain.demo_wallets[0];
    const next = stderr.slice(stderr.indexOf('What next'));
    assert.match(next, new RegExp(`Open http://127\\.0\\.0\\.1:${s.port}/`));
    assert.match(next, new RegExp(`RPC URL ${s.chainUrl}, chain id 1337`));
    assert.ok(next.includes(w.private_key), next);
    assert.match(next, new RegExp(`address ${w.address}: 1000 ETH, 10000 USDC, 1000 AXGT`));
    assert.match(next, /LOCAL TEST\s+KEY/);
    assert.match(next, /"Buy minutes", then "Claim"/);
});
