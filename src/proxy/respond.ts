import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode } from '../errors.js';

/**
 * Answers a client with a catalogue error as JSON. Used for every status switchyard
 * produces itself (404 no route, 502/503/504, 400 ambiguous framing).
 */
export function respondError(res: ServerResponse, code: ErrorCode, message: string, closeConnection = false): number {
  const status = ERRORS[code].status;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const body = `{"error":{"code":"${code}","message":${JSON.stringify(message)}}}\n`;
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
  return status;
}
