// Config files for the systems under test; each is one process on one core.

/** nginx as the upstream: a tiny body on /, 16 KB on /16k (the file <dir>/www/16k). */
export function nginxUpstream(dir, port) {
  return `worker_processes 1; daemon off; pid ${dir}/up.pid; error_log ${dir}/up.err;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  server { listen 0.0.0.0:${port} reuseport backlog=4096; keepalive_requests 100000;
    location / { return 200 "ok"; }
    location = /16k { root ${dir}/www; default_type text/plain; } } }`;
}

/** nginx as a peer proxy with upstream keep-alive. */
export function nginxProxy(dir, port, upstreamPort) {
  return `worker_processes 1; daemon off; pid ${dir}/px.pid; error_log ${dir}/px.err;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; keepalive_requests 100000;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`;
}

/** HAProxy, one thread, connection reuse. */
export function haproxy(port, upstreamPort) {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:${port}
  default_backend b
backend b
  server s1 127.0.0.1:${upstreamPort}
`;
}

/** switchyard; `services` lets scaling scenarios add hosts or targets. */
export function switchyard(dir, port, adminPort, services, extra = '') {
  return `listeners: [{ name: http, port: ${port}, address: 127.0.0.1 }]
admin: { listen: "127.0.0.1:${adminPort}" }
state: { path: ${dir}/state.json }
certs_dir: ${dir}/certs
${extra.includes('logging:') ? '' : 'logging: { level: warn }'}
${extra}
services:
${services}
`;
}

/** One service `bench` (default host) with both stacks on the upstream. */
export function benchService(upstream) {
  return `  - name: bench
    stacks: { blue: { targets: ["${upstream}"] }, green: { targets: ["${upstream}"] } }
`;
}

/** `count` services with hosts h<i>.bench.local, plus nothing as default. */
export function manyHosts(count, upstream) {
  let out = '';
  for (let i = 0; i < count; i++) out += `  - { name: s${i}, hosts: [h${i}.bench.local], stacks: { blue: { targets: ["${upstream}"] } } }\n`;
  return out;
}

/** One service whose blue stack has `count` targets on distinct loopback addresses. */
export function manyTargets(count, port) {
  const targets = [];
  for (let i = 0; i < count; i++) targets.push(`"127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}:${port}"`);
  return `  - name: bench\n    stacks: { blue: { targets: [${targets.join(', ')}] } }\n`;
}
