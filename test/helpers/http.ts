import { type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';

/** A whole HTTP reply. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** The body as UTF-8 text. */
  body: string;
  /** The body as bytes. */
  bytes: Buffer;
  /** Local port of the client socket: the same in two replies when a keep-alive socket was reused. */
  localPort: number;
}

/** What to send; everything is optional (a GET / on a fresh connection). */
export interface RequestOptions {
  method?: string | undefined;
  path?: string | undefined;
  headers?: OutgoingHttpHeaders | undefined;
  /** A string or Buffer goes with a Content-Length (Node sets it); an array is written part by part, chunked unless a length is given. */
  body?: string | Buffer | (string | Buffer)[] | undefined;
  /** `false` (the default) opens a fresh connection; pass a keep-alive Agent to reuse sockets. */
  agent?: Agent | false | undefined;
}

/** Sends one request to 127.0.0.1:`port` and reads the reply to its end; rejects on a socket error. */
export function get(port: number, options: RequestOptions = {}): Promise<Reply> {
  const { method = 'GET', path = '/', headers = {}, body, agent = false } = options;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: bytes.toString('utf8'),
          bytes,
          localPort: req.socket?.localPort ?? 0,
        });
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else req.end(body);
  });
}
