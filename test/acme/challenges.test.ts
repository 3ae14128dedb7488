import { request as httpsRequest } from 'node:https';
import { describe, expect, it } from 'vitest';
import { get } from '../helpers/http.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PATH = `/.well-known/acme-challenge/${TOKEN}`;

async function setup() {
  const upstream = await startUpstream('from upstream', (req, res) => res.end(`upstream saw ${req.method} ${req.url}`));
  const app = await startSwitchyard([{ name: 'app', stacks: { blue: { targets: [upstream.address] } } }], {
    listeners: [
      { name: 'http', port: 0, address: '127.0.0.1' },
      { name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'local' },
    ],
  });
  return { upstream, app, port: app.port('http') };
}

describe('ACME http-01 answers on the plain listeners', () => {
  it('answers a token in flight, for its host, before routing; the service never sees it', async () => {
    const { upstream, app, port } = await setup();
    app.acme.challenges.add(TOKEN, 'a.example.com', KEY_AUTHORIZATION);
    const reply = await get(port, { path: PATH, headers: { host: 'a.example.com:80' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(KEY_AUTHORIZATION);
    expect(reply.headers['content-type']).toBe('application/octet-stream');
    const head = await get(port, { method: 'HEAD', path: PATH, headers: { host: 'A.Example.com' } });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(upstream.requests).toHaveLength(0);
  });

  it('routes an unknown token to the service as usual', async () => {
    const { app, port } = await setup();
    app.acme.challenges.add(TOKEN, 'a.example.com', KEY_AUTHORIZATION);
    const reply = await get(port, { path: '/.well-known/acme-challenge/not-a-token-we-wait-for', headers: { host: 'a.example.com' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('upstream saw GET /.well-known/acme-challenge/not-a-token-we-wait-for');
  });

  it('routes a known token asked for another host, with another method, or once it is done', async () => {
    const { upstream, app, port } = await setup();
    app.acme.challenges.add(TOKEN, 'a.example.com', KEY_AUTHORIZATION);
    expect((await get(port, { path: PATH, headers: { host: 'b.example.com' } })).body).toBe(`upstream saw GET ${PATH}`);
    expect((await get(port, { method: 'POST', path: PATH, headers: { host: 'a.example.com' }, body: 'x' })).body).toBe(`upstream saw POST ${PATH}`);
    app.acme.challenges.remove(TOKEN);
    expect((await get(port, { path: PATH, headers: { host: 'a.example.com' } })).body).toBe(`upstream saw GET ${PATH}`);
    expect(upstream.requests).toHaveLength(3);
  });

  it('never answers on a TLS listener (http-01 is plain HTTP, RFC 8555 §8.3)', async () => {
    const { app } = await setup();
    app.acme.challenges.add(TOKEN, 'localhost', KEY_AUTHORIZATION);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: app.port('https'), path: PATH, servername: 'localhost', rejectUnauthorized: false, headers: { host: 'localhost' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe(`upstream saw GET ${PATH}`);
  });
});
