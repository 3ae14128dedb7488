import type { ServerResponse } from 'node:http';
import { constants } from 'node:http2';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { H2_ERROR, RawH2, h2Request, h2Session } from '../helpers/h2.js';
import { metricsPage, seriesValue } from '../helpers/metrics-page.js';
import { tryConnect } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** A switchyard with one TLS listener (h2 on) in front of `upstream`, with `limits`. */
async function start(upstream: Upstream, limits: Record<string, unknown> = {}): Promise<Switchyard> {
  return startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {
    listeners: [{ name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'localhost' }],
    limits,
  });
}

/** An upstream that holds every request until `release()`; `held` are the waiting responses. */
async function holdingUpstream(): Promise<{ upstream: Upstream; held: ServerResponse[]; release(body?: string): void }> {
  const held: ServerResponse[] = [];
  const upstream = await startUpstream('', (_req, res) => held.push(res));
  return {
    upstream,
    held,
    release: (body = 'finished') => {
      for (const res of held.splice(0)) res.end(body);
    },
  };
}

/** The value of one series on the metrics page, 0 when absent. */
async function metric(app: Switchyard, series: string): Promise<number> {
  return seriesValue(await metricsPage(app.adminUrl), series) ?? 0;
}

describe('HTTP/2 limits', () => {
  describe('concurrent streams', () => {
    it('advertises 100 by default', async () => {
      const upstream = await startUpstream('ok');
      const app = await start(upstream);
      const session = await h2Session(app.port('https'));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(100);
    });

    it('refuses a stream past h2_max_concurrent_streams (REFUSED_STREAM), never forwarded, while the open ones finish', async () => {
      const { upstream, held, release } = await holdingUpstream();
      const app = await start(upstream, { h2_max_concurrent_streams: 2 });
      const raw = await RawH2.open(app.port('https'));
      await raw.write(Buffer.concat([RawH2.get(1, '/a'), RawH2.get(3, '/b'), RawH2.get(5, '/c')]));
      await waitFor(() => raw.events.resets.has(5), 5000, 'stream 5 reset');
      expect(raw.events.resets.get(5)).toBe(H2_ERROR.REFUSED_STREAM);
      await waitFor(() => held.length === 2);
      release();
      await waitFor(() => raw.events.answered.has(1) && raw.events.answered.has(3), 5000, 'streams 1 and 3 answered');
      expect(upstream.requests.map((r) => r.url)).toEqual(['/a', '/b']);
    });
  });

  describe('header list size', () => {
    it('resets a stream whose header list passes max_header_size (ENHANCE_YOUR_CALM); a smaller one on the same connection is served', async () => {
      const upstream = await startUpstream('ok');
      const app = await start(upstream, { max_header_size: 4096 });
      const session = await h2Session(app.port('https'));
      expect(session.remoteSettings.maxHeaderListSize).toBe(4096);
      const big = await h2Request(session, { 'x-big': 'y'.repeat(5000) });
      expect(big.status).toBe(0);
      expect(big.rstCode).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      const fits = await h2Request(session, { 'x-big': 'y'.repeat(3000) });
      expect(fits.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
    });

    it('answers 431 to more than 100 header fields, as on HTTP/1.1', async () => {
      const upstream = await startUpstream('ok');
      const app = await start(upstream);
      const session = await h2Session(app.port('https'));
      const fields: Record<string, string> = {};
      for (let i = 0; i < 110; i++) fields[`x-f${i}`] = 'v';
      expect((await h2Request(session, fields)).status).toBe(431);
      expect(upstream.requests).toHaveLength(0);
    });
  });

  describe('rapid reset (CVE-2023-44487)', () => {
    it('cuts a client that resets its streams as fast as it opens them, while another client is served throughout', async () => {
      const upstream = await startUpstream('ok');
      const app = await start(upstream, { h2_max_stream_resets: 200 });
      const port = app.port('https');
      const victim = await h2Session(port);
      const attacker = await RawH2.open(port);
      let attackOver = false;
      // The other client: one request after another for as long as the attack runs.
      const served = (async () => {
        const statuses: number[] = [];
        while (!attackOver) statuses.push((await h2Request(victim)).status);
        return statuses;
      })();
      // 10,000 streams, each HEADERS then RST_STREAM(CANCEL) in the same write, 100 at a time.
      let opened = 0;
      for (let id = 1; opened < 10_000; ) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 100; i++, id += 2, opened++) batch.push(RawH2.get(id), RawH2.rst(id));
        if (!(await attacker.write(Buffer.concat(batch)))) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await attacker.closed;
      attackOver = true;
      const statuses = await served;
      expect(attacker.events.goaway?.code).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
      // Cut at the limit: far from the 10,000 it tried (nghttp2 alone would allow ~1,000).
      const abandoned = await metric(app, 'switchyard_requests_total{service="web",stack="blue",code="499"}');
      expect(abandoned).toBeGreaterThan(200);
      expect(abandoned).toBeLessThan(400);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200)).toBe(true);
      // The victim's connection was not touched, and keeps working.
      expect((await h2Request(victim)).status).toBe(200);
    });

    it('allows h2_max_stream_resets cancelled streams within the window, and cuts the connection at the next', async () => {
      const held: ServerResponse[] = [];
      const upstream = await startUpstream('ok', (req, res) => (req.url?.startsWith('/cancel') ? held.push(res) : res.end('ok')));
      const app = await start(upstream, { h2_max_stream_resets: 5 });
      const session = await h2Session(app.port('https'));
      const goaways: number[] = [];
      session.on('goaway', (code) => goaways.push(code));
      const cancel = async (i: number) => {
        const stream = session.request({ ':path': `/cancel${i}` });
        stream.on('error', () => undefined);
        await waitFor(() => held.length === i + 1);
        stream.close(constants.NGHTTP2_CANCEL);
        await new Promise((resolve) => stream.once('close', resolve));
      };
      for (let i = 0; i < 5; i++) await cancel(i);
      expect((await h2Request(session, { ':path': '/fine' })).status).toBe(200);
      expect(goaways).toEqual([]);
      await cancel(5);
      await waitFor(() => session.closed || session.destroyed, 5000, 'session cut');
      expect(goaways).toEqual([constants.NGHTTP2_ENHANCE_YOUR_CALM]);
    });
  });

  describe('client cancels a stream', () => {
    it('abandons its upstream attempt (499) and leaves the connection and its other streams alone', async () => {
      const { upstream, held, release } = await holdingUpstream();
      const app = await start(upstream);
      const session = await h2Session(app.port('https'));
      const other = h2Request(session, { ':path': '/other' });
      const cancelled = session.request({ ':path': '/cancel' });
      cancelled.on('error', () => undefined);
      await waitFor(() => held.length === 2);
      const upstreamSide = held.find((res) => res.req.url === '/cancel') as ServerResponse;
      const upstreamClosed = new Promise((resolve) => upstreamSide.once('close', resolve));
      cancelled.close(constants.NGHTTP2_CANCEL);
      await upstreamClosed;
      await waitFor(async () => (await metric(app, 'switchyard_requests_total{service="web",stack="blue",code="499"}')) === 1);
      release('other done');
      const reply = await other;
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: 'other done' });
      expect(session.closed).toBe(false);
    });
  });

  describe('idle connections', () => {
    it('closes an h2 connection with no open stream after keepalive_timeout (GOAWAY), not one waiting on a slow upstream', async () => {
      const { upstream, held, release } = await holdingUpstream();
      const app = await start(upstream, { keepalive_timeout: 300 });
      const port = app.port('https');
      const idle = await h2Session(port);
      const busy = await h2Session(port);
      const goaways: number[] = [];
      idle.on('goaway', (code) => goaways.push(code));
      const slow = h2Request(busy, { ':path': '/slow' });
      await waitFor(() => held.length === 1);
      await waitFor(() => idle.closed || idle.destroyed, 5000, 'idle session closed');
      expect(goaways).toEqual([constants.NGHTTP2_NO_ERROR]);
      // Well past the idle timeout, the stream waiting on the upstream still gets its answer.
      await new Promise((resolve) => setTimeout(resolve, 600));
      release('late');
      expect((await slow).body).toBe('late');
    });
  });

  describe('send_timeout', () => {
    it('resets a stream whose client takes no response bytes, not the whole connection', async () => {
      const big = Buffer.alloc(4 << 20, 'x');
      const upstream = await startUpstream('', (_req, res) => res.end(big));
      const app = await start(upstream, { send_timeout: 500 });
      const port = app.port('https');
      const session = await h2Session(port);
      const stalled = session.request({ ':path': '/big' });
      stalled.on('error', () => undefined);
      stalled.pause();
      const closed = new Promise<number>((resolve) => stalled.once('close', () => resolve(stalled.rstCode ?? -1)));
      expect(await closed).toBe(constants.NGHTTP2_INTERNAL_ERROR);
      const fresh = await h2Session(port);
      expect((await h2Request(fresh, { ':path': '/again' })).status).toBe(200);
    });
  });

  describe('graceful stop', () => {
    it('sends GOAWAY, refuses new connections, lets the open stream finish, then closes', async () => {
      const { upstream, held, release } = await holdingUpstream();
      const app = await start(upstream);
      const port = app.port('https');
      const session = await h2Session(port);
      const goaway = new Promise<number>((resolve) => session.once('goaway', resolve));
      const inFlight = h2Request(session, { ':path': '/slow' });
      await waitFor(() => held.length === 1);
      const stopped = app.stop(10_000);
      expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
      expect(await tryConnect(port)).toBe('ECONNREFUSED');
      release('finished');
      const reply = await inFlight;
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: 'finished' });
      await stopped;
      await waitFor(() => session.closed || session.destroyed);
    });
  });
});
