// The hot functions of the request path, on realistic inputs, from the compiled dist/.
import { validateConfig } from '../../dist/config/load.js';
import { TargetRegistry } from '../../dist/pool/registry.js';
import { readRequestHead, responseHeaders } from '../../dist/proxy/headers.js';
import { HostRouter } from '../../dist/routing/host-router.js';
import { chooseStack } from '../../dist/routing/service-route.js';
import { buildSnapshot } from '../../dist/routing/snapshot.js';

function router(hosts) {
  const r = new HostRouter();
  for (let i = 0; i < hosts; i++) r.add(`h${i}.bench.local`, '/', i);
  r.add('*.wild.bench.local', '/', 'wild');
  r.add(undefined, '/', 'default');
  return r;
}

/** A snapshot of one service `web`: `targets` per stack, `balance`, blue/green weights. */
function route({ targets = 1, balance = 'round_robin', weights, sticky = 'none' } = {}) {
  const addresses = (n, base) => Array.from({ length: n }, (_, i) => `127.0.${base + Math.floor(i / 250)}.${1 + (i % 250)}:80`);
  const config = validateConfig({
    listeners: [{ name: 'http', port: 0 }],
    services: [{ name: 'web', balance, sticky, stacks: { blue: { targets: addresses(targets, 1) }, green: { targets: addresses(targets, 10) } } }],
  });
  const states = new Map();
  if (weights) states.set('web', { generation: 1, weights, targets: {}, history: [] });
  return buildSnapshot(config, states, new TargetRegistry(), 1).services.get('web');
}

const rawRequest = [
  'Host',
  'app.example.com',
  'User-Agent',
  'curl/8.5.0',
  'Accept',
  '*/*',
  'Accept-Encoding',
  'gzip, br',
  'Cookie',
  'session=abc123; theme=dark',
  'X-Request-Id',
  '5f1e7c2a-9d3b-4c1e-8a7f-2b6d9e0c4a13',
  'Connection',
  'keep-alive, X-Hop',
  'X-Hop',
  'secret',
  'Content-Type',
  'application/json',
  'Content-Length',
  '42',
];
const rawResponse = [
  'Server',
  'nginx',
  'Date',
  'Sun, 22 Nov 2026 15:00:00 GMT',
  'Content-Type',
  'text/html; charset=utf-8',
  'Content-Length',
  '1234',
  'Connection',
  'keep-alive',
  'Keep-Alive',
  'timeout=75',
  'Cache-Control',
  'no-cache',
  'ETag',
  '"abc"',
  'Vary',
  'Accept-Encoding',
  'X-Upstream',
  'blue-1',
];
const listener = { proto: 'http', port: '9000' };

const small = router(1);
const large = router(10_000);
const pools = (targets, balance) => route({ targets, balance }).active;

/** Every case: name and a function of the iteration number. */
export const CASES = [
  ['HostRouter.match, 1 host, exact', () => small.match('h0.bench.local', '/')],
  ['HostRouter.match, 10,000 hosts, exact', (i) => large.match(i & 1 ? 'h9999.bench.local' : 'h42.bench.local', '/')],
  ['HostRouter.match, 10,000 hosts, wildcard', () => large.match('x.wild.bench.local', '/')],
  ['HostRouter.match, 10,000 hosts, miss → default', () => large.match('nope.example.org:8080', '/')],
  ...(() => {
    const solo = route();
    const split = route({ weights: { blue: 50, green: 50 } });
    const sticky = route({ weights: { blue: 50, green: 50 }, sticky: 'cookie' });
    return [
      ['chooseStack, 100/0', () => chooseStack(solo, undefined)],
      ['chooseStack, 50/50', () => chooseStack(split, undefined)],
      ['chooseStack, 50/50 sticky cookie', () => chooseStack(sticky, 'theme=dark; switchyard.web=green')],
    ];
  })(),
  ...['round_robin', 'least_conn', 'random_two'].flatMap((balance) =>
    [1, 10, 1000].map((n) => {
      const pool = pools(n, balance);
      return [`StackPool.pick, ${balance}, ${n} target${n > 1 ? 's' : ''}`, () => pool.pick()];
    }),
  ),
  ['readRequestHead (10 headers, Connection naming a hop header)', () => readRequestHead(rawRequest, '127.0.0.1', listener)],
  ['responseHeaders (10 headers, hop-by-hop dropped)', () => responseHeaders(rawResponse, undefined)],
];
