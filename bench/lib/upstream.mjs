// The fast upstream on the load generator's core: nginx `return 200 "ok"` (plus /16k and
// a TLS port), or a minimal Node server when nginx is missing.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as configs from '../peers/configs.mjs';
import { LOAD_CORE } from './load.mjs';
import { freePort, has, start, waitReady } from './proc.mjs';

/** Starts the upstream; resolves to { kind, port, tlsPort (null without nginx), pid }. */
export async function startUpstream(ctx) {
  const port = await freePort();
  if (has('nginx')) {
    const tlsPort = await freePort();
    const dir = join(ctx.dir, 'upstream');
    mkdirSync(join(dir, 'www'), { recursive: true });
    writeFileSync(join(dir, 'www/16k'), 'x'.repeat(16384));
    // nginx's worker runs as nobody when started by root: the temp dirs must be readable.
    for (const d of [ctx.dir, dir, join(dir, 'www')]) chmodSync(d, 0o755);
    writeFileSync(join(dir, 'nginx.conf'), configs.nginxUpstream(dir, { port, tlsPort, cert: ctx.cert }));
    const child = start(LOAD_CORE, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir]);
    await waitReady(`http://127.0.0.1:${port}/`, { child });
    return { kind: 'nginx', port, tlsPort, pid: child.pid };
  }
  const child = start(LOAD_CORE, process.execPath, [join(ctx.root, 'bench/peers/node-upstream.mjs'), String(port)]);
  await waitReady(`http://127.0.0.1:${port}/`, { child });
  return { kind: 'node', port, tlsPort: null, pid: child.pid };
}
