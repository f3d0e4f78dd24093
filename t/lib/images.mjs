// The session images the tests launch (scripts/session-image writes their
// tags to build/images/NAME.ref; `make images` builds them).  A test file
// that needs one it cannot find skips itself, saying how to build it.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD, ROOT } from './stack.mjs';

export const CONTAINERS_CONF = join(ROOT, 'conf/podman/containers.conf');
export const penv = { ...process.env, CONTAINERS_CONF };

// { ref, skip }: ref the image's tag when it is in podman's store, else
// skip is the reason to give node:test
export function sessionImage(name) {
    const file = join(BUILD, 'images', `${name}.ref`);
    const ref = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    const there = ref !== ''
        && spawnSync('podman', ['image', 'exists', ref], { env: penv }).status === 0;
    return there ? { ref, skip: false }
                 : { ref: '', skip: `no ${name} image: make images (scripts/session-image ${name})` };
}

export function podman(...args) {
    const r = spawnSync('podman', args, { env: penv });
    return { ok: r.status === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}
