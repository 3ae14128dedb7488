// Config text for every process the harness runs: the upstream and each system under test.
// Each system is one process (one worker, one thread) so that it fits on one core.

/** nginx as the upstream: "ok" on /, 16 KB on /16k (the file <dir>/www/16k), same over TLS. */
export function nginxUpstream(dir, { port, tlsPort, cert }) {
  const routes = `location / { return 200 "ok"; } location = /16k { root ${dir}/www; default_type text/plain; }`;
  return `worker_processes 1; daemon off; pid ${dir}/up.pid; error_log ${dir}/up.err;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; keepalive_requests 1000000;
  server { listen 0.0.0.0:${port} reuseport backlog=4096; ${routes} }
  server { listen 127.0.0.1:${tlsPort} ssl; ssl_certificate ${cert.crt}; ssl_certificate_key ${cert.key}; ${routes} } }`;
}

/** nginx proxy_pass with upstream keep-alive (and WebSocket upgrades, as nginx's docs show); h2 and http/1.1 on the TLS port. */
export function nginxProxy(dir, { port, tlsPort, cert, upstreamPort, fds = 16384, servers = [`127.0.0.1:${upstreamPort}`] }) {
  const location = `location / { proxy_pass http://up; proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; proxy_read_timeout 1h; }`;
  return `worker_processes 1; daemon off; pid ${dir}/px.pid; error_log ${dir}/px.err; worker_rlimit_nofile ${fds};
events { worker_connections ${fds}; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream up { ${servers.map((a) => `server ${a};`).join(' ')} keepalive ${Math.max(64, servers.length)}; }
  server { listen 127.0.0.1:${port}; ${location} }
  server { listen 127.0.0.1:${tlsPort} ssl http2; ssl_certificate ${cert.crt}; ssl_certificate_key ${cert.key}; ${location} } }`;
}

/** HAProxy: one thread, connection reuse, timeouts set, h2 and http/1.1 by ALPN on TLS; `cert.pem` is chain + key in one file. `maxconn` counts client connections. */
export function haproxy({ port, tlsPort, cert, upstreamPort, maxconn = 8192 }) {
  return `global
  nbthread 1
  maxconn ${maxconn}
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
  http-reuse always
frontend f
  bind 127.0.0.1:${port}
  bind 127.0.0.1:${tlsPort} ssl crt ${cert.pem} alpn h2,http/1.1
  default_backend b
backend b
  server s1 127.0.0.1:${upstreamPort}
`;
}

/**
 * switchyard (SPEC §2): a plain and a TLS listener (h2 and http/1.1 by ALPN, the default) (certificate `bench` in certs_dir),
 * admin on loopback, state and certificates in `dir`. `extra` is YAML added at the top
 * level (variants: `metrics: { enabled: false }`, `logging: { access_log: true }`, …).
 */
export function switchyard(dir, { port, tlsPort, adminPort, services, extra = '' }) {
  const logging = extra.includes('logging:') ? '' : 'logging: { level: warn }';
  // A variant may bring its own state store (scenario j: etcd).
  const state = /^state:/m.test(extra) ? '' : `state: { path: ${dir}/state.json }`;
  return `listeners:
  - { name: http, port: ${port}, address: 127.0.0.1 }
  - { name: https, port: ${tlsPort}, address: 127.0.0.1, tls: true, default_cert: bench }
admin: { listen: "127.0.0.1:${adminPort}" }
${state}
certs_dir: ${dir}/certs
${logging}
${extra}
services:
${services}
`;
}

/** The one service `bench` (default host, path /) with blue and green stacks. */
export function benchService(blue, green = blue) {
  return `  - name: bench
    paths: ["/"]
    stacks: { blue: { targets: ["${blue}"] }, green: { targets: ["${green}"] } }
    active: blue
`;
}

/** `count` services with hosts h<i>.bench.local (for 1 vs 10,000 virtual hosts). */
export function manyHosts(count, upstream) {
  let out = '';
  for (let i = 0; i < count; i++)
    out += `  - { name: s${i}, hosts: [h${i}.bench.local], paths: ["/"], stacks: { blue: { targets: ["${upstream}"] }, green: { targets: ["${upstream}"] } }, active: blue }\n`;
  return out;
}

/** The i-th of the distinct loopback addresses 127.0.1.1 … (250 per /24, so 1,000 end at 127.0.4.250). */
export function loopback(i) {
  return `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** `count` upstream addresses on distinct loopback addresses, same port. */
export function loopbackTargets(count, port) {
  return Array.from({ length: count }, (_, i) => `${loopback(i)}:${port}`);
}

/** One service whose blue stack has `count` targets on distinct loopback addresses, same port. */
export function manyTargets(count, port) {
  const targets = loopbackTargets(count, port).map((a) => `"${a}"`);
  return `  - name: bench\n    paths: ["/"]\n    stacks: { blue: { targets: [${targets.join(', ')}] }, green: { targets: ["127.0.0.1:${port}"] } }\n    active: blue\n`;
}

/** wrk Lua script: 4 KB POST bodies. */
export const POST_LUA = `wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`;
