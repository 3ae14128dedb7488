import { describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../helpers/h2.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

/** Overrides and mirroring on HTTP/2 streams: the same route step as HTTP/1.1 (SPEC §10, §12). */
describe('overrides and mirroring over HTTP/2', () => {
  it('routes an h2 request by its override header and mirrors it, the client answered by its own stack', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const app = await startSwitchyard(
      [
        {
          name: 'web',
          stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } },
          overrides: [{ header: 'x-canary', value: 'always', to: 'standby' }],
          mirror: { to: 'standby', percent: 100 },
        },
      ],
      { listeners: [{ name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'localhost' }] },
    );
    const session = await h2Session(app.port('https'));
    expect((await h2Request(session, { ':path': '/plain' })).body).toBe('blue');
    await waitFor(() => green.requests.some((r) => r.url === '/plain' && r.headers['x-switchyard-mirror'] === '1'));
    expect((await h2Request(session, { ':path': '/tester', 'x-canary': 'always' })).body).toBe('green');
    // The overridden request went to green itself: no copy of it to green.
    expect(green.requests.filter((r) => r.url === '/tester').map((r) => r.headers['x-switchyard-mirror'])).toEqual([undefined]);
  });
});
