import { createServer } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Switchyard } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { freePort } from '../helpers/child-switchyard.js';
import { defer, track } from '../helpers/cleanup.js';
import { get as send } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-http.js';
import { tempDir, testConfig, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

type LogLine = { level: number; msg: string; [key: string]: unknown };

/** A config builder over one temp dir: `extra` is merged over a minimal config whose logs go to `lines`. */
function setup() {
  const dir = tempDir();
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const config = (services: unknown[], extra: Record<string, unknown> = {}): Config => testConfig(services, { logging: { level: 'info' }, ...extra }, dir);
  return { config, log, lines };
}

/** GET / with Host `host` on a fresh connection. */
const get = (port: number, host = 'a.test') => send(port, { headers: { host } });

/** One GET on a kept-open raw client: the status line, or 'closed' when the proxy hangs up first. */
async function rawGet(c: RawClient): Promise<string> {
  c.text = '';
  c.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
  await waitFor(() => c.closed || /\r\n\r\n[\s\S]*$/.test(c.text), 3000);
  return c.closed && c.text === '' ? 'closed' : (c.text.split('\r\n')[0] ?? '');
}

/** A plain TCP server holding a port, so a listener cannot bind it. */
async function holdPort(): Promise<number> {
  const server = createServer();
  defer(() => new Promise((resolve) => server.close(resolve)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('Switchyard#reload', () => {
  describe('reloadable keys', () => {
    it('applies limits.max_connections to a listener that keeps running', async () => {
      const { config, log } = setup();
      const blue = await startUpstream('blue');
      const services = [{ name: 'web', stacks: { blue: { targets: [blue.address] } } }];
      const app = track(await Switchyard.start(config(services), log));
      const port = app.port('http');
      const open = [new RawClient(port), new RawClient(port)];
      for (const c of open) expect(await rawGet(c)).toBe('HTTP/1.1 200 OK');

      await app.reload(config(services, { limits: { max_connections: 2 } }));
      // Same server, same connections: both still answer; a third is over the new limit.
      expect(app.port('http')).toBe(port);
      for (const c of open) expect(await rawGet(c)).toBe('HTTP/1.1 200 OK');
      expect(await rawGet(new RawClient(port))).toBe('closed');
    });

    it('applies upstream.max_fails to passive ejection', async () => {
      const { config, log } = setup();
      const bad = await startUpstream('bad', (_req, res) => res.writeHead(500).end('boom'));
      const good = await startUpstream('good');
      const services = [{ name: 'web', stacks: { blue: { targets: [bad.address, good.address] } } }];
      const app = track(await Switchyard.start(config(services, { upstream: { max_fails: 50 } }), log));
      const events: SwitchyardEvent[] = [];
      app.controller.events.subscribe((e) => events.push(e));

      await app.reload(config(services, { upstream: { max_fails: 2 } }));
      const port = app.port('http');
      for (let i = 0; i < 12 && !events.some((e) => e.type === 'health'); i++) await get(port);
      expect(events).toContainEqual(expect.objectContaining({ type: 'health', target: bad.address, healthy: false, source: 'passive' }));
      expect(bad.requests).toHaveLength(2);
    });

    it('adds, changes (on the same port) and removes listeners', async () => {
      const { config, log } = setup();
      const blue = await startUpstream('blue');
      const green = await startUpstream('green');
      const services = [{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }];
      const fixed = await freePort();
      const listeners = (routeTo: string) => [
        { name: 'http', port: 0, address: '127.0.0.1' },
        { name: 'preview', port: fixed, address: '127.0.0.1', route_to: routeTo },
      ];
      const app = track(await Switchyard.start(config(services, { listeners: listeners('active') }), log));
      const http = app.port('http');
      expect((await get(fixed)).body).toBe('blue');

      await app.reload(config(services, { listeners: [...listeners('standby'), { name: 'extra', port: 0, address: '127.0.0.1' }] }));
      expect(app.port('preview')).toBe(fixed);
      expect((await get(fixed)).body).toBe('green');
      expect((await get(app.port('extra'))).body).toBe('blue');
      expect(app.port('http')).toBe(http);

      await app.reload(config(services, { listeners: [{ name: 'extra', port: 0, address: '127.0.0.1' }] }));
      expect(() => app.port('http')).toThrow('no listener http');
      await expect(get(http)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(get(fixed)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
  });

  describe('restart-only keys', () => {
    it('logs each changed key with the running and the new value, keeps the running value and applies the rest', async () => {
      const { config, log, lines } = setup();
      const blue = await startUpstream('blue');
      const green = await startUpstream('green');
      const app = track(await Switchyard.start(config([{ name: 'web', stacks: { blue: { targets: [blue.address] } } }]), log));

      await app.reload(
        config([{ name: 'web', stacks: { blue: { targets: [green.address] } } }], { metrics: { enabled: false }, upstream: { max_sockets: 8 } }),
      );
      expect((await get(app.port('http'))).body).toBe('green');
      expect((await fetch(`${app.adminUrl}/metrics`)).status).toBe(200);
      expect(app.controller.currentConfig.metrics.enabled).toBe(true);
      expect(app.controller.currentConfig.upstream.max_sockets).toBe(256);
      const kept = lines.filter((l) => l.level === 40 && typeof l.key === 'string');
      expect(kept.map((l) => [l.key, l.running, l.new])).toEqual([
        ['metrics.enabled', true, false],
        ['upstream.max_sockets', 256, 8],
      ]);
      expect(kept[0]?.msg).toBe('metrics.enabled changes only on restart: keeping true, not false');
    });
  });

  describe('all or nothing', () => {
    it('keeps the whole running config, routing included, when a new listener cannot bind its port', async () => {
      const { config, log, lines } = setup();
      const blue = await startUpstream('blue');
      const green = await startUpstream('green');
      const before = config([{ name: 'web', hosts: ['a.test'], stacks: { blue: { targets: [blue.address] } } }]);
      const app = track(await Switchyard.start(before, log));
      const port = app.port('http');
      const generation = app.controller.snapshot.generation;
      const events: SwitchyardEvent[] = [];
      app.controller.events.subscribe((e) => events.push(e));
      const taken = await holdPort();

      const next = config(
        [
          { name: 'web', hosts: ['a.test'], stacks: { blue: { targets: [green.address] } } },
          { name: 'new', hosts: ['new.test'], stacks: { blue: { targets: [green.address] } } },
        ],
        {
          listeners: [
            { name: 'http', port: 0, address: '127.0.0.1' },
            { name: 'extra', port: 0, address: '127.0.0.1' },
            { name: 'taken', port: taken, address: '127.0.0.1' },
          ],
          limits: { max_connections: 1 },
          logging: { level: 'error' },
        },
      );
      await expect(app.reload(next)).rejects.toThrow(`listener "taken" cannot listen on 127.0.0.1:${taken}`);

      expect(app.controller.currentConfig).toBe(before);
      expect(app.controller.snapshot.generation).toBe(generation);
      expect(events).toEqual([]);
      expect(() => app.port('extra')).toThrow('no listener extra');
      expect((await get(port, 'a.test')).body).toBe('blue');
      expect((await get(port, 'new.test')).status).toBe(404);
      // max_connections 1 was not applied either: two connections at once still work.
      const two = [new RawClient(port), new RawClient(port)];
      for (const c of two) expect(await rawGet(c)).toBe('HTTP/1.1 200 OK');
      // Nor the log level: info lines still get through.
      expect(log.level).toBe('info');
      // The target of the rejected routing was never registered, so nothing probes or counts it.
      expect(lines.some((l) => JSON.stringify(l).includes(green.address))).toBe(false);
    });

    it('moves a listener back to its old config when the changed one cannot bind', async () => {
      const { config, log } = setup();
      const blue = await startUpstream('blue');
      const fixed = await freePort();
      const services = [{ name: 'web', stacks: { blue: { targets: [blue.address] } } }];
      const app = track(await Switchyard.start(config(services, { listeners: [{ name: 'main', port: fixed, address: '127.0.0.1' }] }), log));
      // The same port on an address this machine does not have: the old server stops, the new one cannot bind.
      const next = config(services, { listeners: [{ name: 'main', port: fixed, address: '192.0.2.1' }] });
      await expect(app.reload(next)).rejects.toThrow(/listener "main" cannot listen on 192\.0\.2\.1/);
      expect(app.port('main')).toBe(fixed);
      expect((await get(fixed)).body).toBe('blue');
      expect(app.controller.currentConfig.listeners[0]?.address).toBe('127.0.0.1');
    });
  });
});
