import { describe, expect, it } from 'vitest';
import { probe } from '../../src/health/probe.js';
import { Target } from '../../src/pool/target.js';
import { connectOrFail } from '../../src/net/connect.js';

const check = {
  interval: 1000,
  response_timeout: 1000,
  healthy_threshold: 1,
  unhealthy_threshold: 1,
  expect_status: [200, 399] as const,
};

describe('connectOrFail', () => {
  it('turns the synchronous ERR_SOCKET_BAD_PORT of net.connect into an error event after the caller attached its handlers', async () => {
    const socket = connectOrFail({ host: '127.0.0.1', port: 99999 });
    const [error] = await Promise.all([
      new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve)),
      new Promise<void>((resolve) => socket.once('close', () => resolve())),
    ]);
    expect(error.code).toBe('ERR_SOCKET_BAD_PORT');
    expect(socket.destroyed).toBe(true);
  });
});

describe('probe', () => {
  it('fails a probe of a port net.connect refuses instead of rejecting (which crashed the checker, issue 11)', async () => {
    await expect(probe(check, new Target('web', 'blue', '127.0.0.1:99999', true))).resolves.toEqual({ ok: false, error: 'ERR_SOCKET_BAD_PORT' });
  });
});
