import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/child-switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';
import { startCluster, untilBothWorkers, webService } from './support.js';

/** One HTTPS request on a fresh connection with SNI `servername`: the served certificate's fingerprint and the worker. */
function handshake(port: number, servername: string): Promise<{ fingerprint: string; worker: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ fingerprint, worker: String(res.headers['x-switchyard-worker']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Fresh handshakes, one at a time, until both workers made some. */
function handshakes(port: number, servername: string): Promise<{ fingerprint: string; worker: string }[]> {
  return untilBothWorkers(() => handshake(port, servername), 4);
}

describe('workers: certificates', () => {
  it('serves a certificate uploaded, replaced or deleted through the primary on the next handshake of every worker', async () => {
    const { blue, green } = await startBlueGreen();
    const tlsPort = await freePort();
    // Test hook: workers apply each push 150 ms late, so an answer sent before all applied it would show.
    const sy = await startCluster(webService(blue.address, green.address), {
      env: { SWITCHYARD_TEST_PUSH_DELAY: '150' },
      listeners: `  - { name: https, port: ${tlsPort}, address: 127.0.0.1, tls: true, default_cert: localhost }\n`,
    });
    const fallback = (await handshake(tlsPort, 'site.test')).fingerprint;

    const added = await sy.call('POST', '/v1/certificates/self-signed', { name: 'site', hosts: ['site.test'] });
    expect(added.status).toBe(201);
    const first = (added.json as { certificate: { fingerprint256: string } }).certificate.fingerprint256;
    const seen = await handshakes(tlsPort, 'site.test');
    expect(new Set(seen.map((s) => s.worker))).toEqual(new Set(['1', '2']));
    expect(seen.map((s) => s.fingerprint)).toEqual(seen.map(() => first));

    const replaced = await sy.call('POST', '/v1/certificates/self-signed', { name: 'site', hosts: ['site.test'] });
    expect(replaced.status).toBe(200);
    const second = (replaced.json as { certificate: { fingerprint256: string } }).certificate.fingerprint256;
    expect(second).not.toBe(first);
    const again = await handshakes(tlsPort, 'site.test');
    expect(new Set(again.map((s) => s.worker))).toEqual(new Set(['1', '2']));
    expect(again.map((s) => s.fingerprint)).toEqual(again.map(() => second));

    expect((await sy.call('DELETE', '/v1/certificates/site')).status).toBe(200);
    const gone = await handshakes(tlsPort, 'site.test');
    expect(new Set(gone.map((s) => s.worker))).toEqual(new Set(['1', '2']));
    expect(gone.map((s) => s.fingerprint)).toEqual(gone.map(() => fallback));
  });
});
