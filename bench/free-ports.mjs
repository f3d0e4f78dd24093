// Prints N distinct free loopback TCP ports, one a line: all N listeners
// are held open together, so the ports differ, then closed.
import { createServer } from 'node:net';

const n = Number(process.argv[2] || 1);
const servers = [];

for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise((ok, fail) => {
        s.once('error', fail);
        s.listen(0, '127.0.0.1', ok);
    });
    servers.push(s);
}

console.log(servers.map((s) => s.address().port).join('\n'));
await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
