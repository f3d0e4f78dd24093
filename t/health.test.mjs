// GET /api/health: a real module -> Redis round trip, and the worker's
// heartbeat, which it refreshes only after its own Postgres check.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/stack.mjs';

const s = new Stack();
before(() => s.start());
after(() => s.stop());

const health = () => s.json('/api/health');

test('all parts up: 200 with every part named', async () => {
    const { status, body, headers } = await health();
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.redis, 'up');
    assert.equal(body.worker, 'up');
    assert.equal(body.postgres, 'up');
    assert.deepEqual(body.down, []);
    assert.match(headers.get('content-type'), /^application\/json/);
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.equal(typeof body.worker_info.pid, 'number');
});

test('HEAD answers without a body', async () => {
    const res = await s.fetch('/api/health', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
});

test('unknown endpoint: 404 JSON; wrong method: 405 JSON', async () => {
    let r = await s.json('/api/nope');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
    assert.equal(typeof r.body.error.message, 'string');
    r = await s.json('/api/health', { method: 'POST', body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(r.body.error.code, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
});

test('Redis down: 503 naming redis; back up: 200 without an nginx reload', async () => {
    const master = s.pid('nginx');
    await s.stack('stop', 'redis');
    const down = await waitFor(async () => {
        const r = await health();
        return r.status === 503 && r;
    }, 'health 503 after redis stop');
    assert.equal(down.body.redis, 'down');
    assert.deepEqual(down.body.down, ['redis']);

    await s.startRedis();
    const up = await waitFor(async () => {
        const r = await health();
        return r.status === 200 && r;
    }, 'health 200 after redis start');
    assert.equal(up.body.redis, 'up');
    assert.equal(s.pid('nginx'), master, 'same nginx master');
    assert.doesNotMatch(s.log('nginx-error.log'), /reconfiguring/);
});

test('many requests while Redis is down all get 503 at once', async () => {
    await s.stack('stop', 'redis');
    await waitFor(async () => (await health()).status === 503, 'health 503');
    const all = await Promise.all(Array.from({ length: 50 }, () => health()));
    for (const r of all) assert.equal(r.status, 503);
    await s.startRedis();
    await waitFor(async () => (await health()).status === 200, 'health 200');
});

test('worker down: 503 naming the worker', async () => {
    await s.stack('stop', 'worker');
    const down = await waitFor(async () => {
        const r = await health();
        return r.status === 503 && r;
    }, 'health 503 after worker stop');
    assert.equal(down.body.worker, 'down');
    assert.deepEqual(down.body.down, ['worker']);
    assert.equal(down.body.redis, 'up');

    await s.stack('start', 'worker');
    await waitFor(async () => (await health()).status === 200, 'health 200 after worker start');
});

test('Postgres down: 503 naming postgres, the worker stays up', async () => {
    await s.stack('stop', 'postgres');
    const down = await waitFor(async () => {
        const r = await health();
        return r.status === 503 && r.body.postgres === 'down' && r;
    }, 'health 503 after postgres stop');
    assert.deepEqual(down.body.down, ['postgres']);
    assert.equal(down.body.worker, 'up');
    assert.equal(typeof down.body.postgres_error, 'string');

    await s.stack('start', 'postgres');
    await waitFor(async () => (await health()).status === 200, 'health 200 after postgres start');
});
