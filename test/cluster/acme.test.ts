import { describe, expect, it } from 'vitest';
import { pebbleInstalled, startPebble } from '../acme/pebble.js';
import { defer } from '../helpers/cleanup.js';
import { freePort } from '../helpers/child-switchyard.js';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { startCluster } from './support.js';

describe.skipIf(!pebbleInstalled())('workers: ACME', () => {
  it('answers http-01 from whichever worker the CA reaches: the primary orders, every worker holds the tokens', async () => {
    const upstream = await startUpstream('app');
    // Pebble validates on the plain listener's port: picked first, for both.
    const httpPort = await freePort();
    const pebble = await startPebble(httpPort);
    defer(() => pebble.stop());
    const acme = `acme: { directory: "${pebble.directory}", ca_file: "${pebble.caFile}", email: ops@example.com }\ncertificates: [{ name: web, hosts: [a.example.com, b.example.com], acme: true }]\n`;
    const sy = await startCluster(`  - name: app\n    stacks: { blue: { targets: ["${upstream.address}"] } }\n`, { extra: acme, port: httpPort });
    await waitFor(
      async () => {
        const { json } = await sy.call('GET', '/v1/certificates/acme');
        return JSON.stringify(json).includes('"state":"valid"');
      },
      20_000,
      'the certificate issued',
    );
    const { json } = await sy.call('GET', '/v1/certificates');
    expect((json as { certificates: { name: string; hosts: string[] }[] }).certificates).toContainEqual(
      expect.objectContaining({ name: 'web', hosts: ['a.example.com', 'b.example.com'] }),
    );
  });
});
