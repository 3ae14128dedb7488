import { isIPv4, isIPv6 } from 'node:net';
import { portColon } from '../net/host-port.js';

/**
 * The one rule for an upstream target `host:port`, used by the config schema, the
 * targets API and the stored-state load alike (issue 11): a target that passes here is
 * one `net.connect` accepts, so no later socket call can throw on it.
 */

/** A target split into what `net.connect` takes. */
export interface TargetAddress {
  /** Host name or IP literal; an IPv6 address without its brackets. */
  readonly host: string;
  /** 1–65535. */
  readonly port: number;
}

/** The outcome of checking one target: its parts, or why it is refused. */
export type TargetCheck = ({ readonly ok: true } & TargetAddress) | { readonly ok: false; readonly problem: string };

/** RFC 1123 §2.1 label: letters, digits and "-", 1–63 characters, no "-" at either end. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** Port 0 means "any free port" to `listen`, but nothing can be connected to there. */
const PORT = /^[1-9][0-9]{0,4}$/;
/** RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text. */
const MAX_HOST_NAME = 253;

const refuse = (problem: string): TargetCheck => ({ ok: false, problem });

/** Checks `value` as `host:port` (IPv6 in brackets, e.g. `[::1]:8080`). */
export function checkTarget(value: unknown): TargetCheck {
  if (typeof value !== 'string') return refuse('must be a string "host:port"');
  const colon = portColon(value);
  if (colon < 0) return refuse('must be host:port');
  const rawHost = value.slice(0, colon);
  const rawPort = value.slice(colon + 1);
  const port = Number(rawPort);
  if (!PORT.test(rawPort) || port > 65535) return refuse(`port "${rawPort}" must be an integer 1-65535`);
  if (rawHost.startsWith('[') && rawHost.endsWith(']')) {
    const host = rawHost.slice(1, -1);
    return isIPv6(host) ? { ok: true, host, port } : refuse(`"${rawHost}" is not an IPv6 address`);
  }
  const problem = hostProblem(rawHost);
  return problem === undefined ? { ok: true, host: rawHost, port } : refuse(problem);
}

/** Why `value` is not a valid target, or undefined when it is one. */
export function targetProblem(value: unknown): string | undefined {
  const check = checkTarget(value);
  return check.ok ? undefined : check.problem;
}

function hostProblem(host: string): string | undefined {
  if (host === '') return 'host is empty';
  if (host.includes(':')) return 'an IPv6 address must be in brackets, e.g. "[::1]:8080"';
  if (isIPv4(host)) return undefined;
  if (host.length > MAX_HOST_NAME) return `host name is longer than ${MAX_HOST_NAME} characters`;
  const labels = host.split('.');
  if (!labels.every((label) => LABEL.test(label))) {
    return `host "${host}" is not a host name (RFC 1123: labels of 1-63 letters, digits or "-", not starting or ending with "-") nor an IP address`;
  }
  // RFC 1123 §2.1: a name's top label is never all digits, so this was meant as an IPv4 address.
  if (/^[0-9]+$/.test(labels.at(-1) ?? '')) return `host "${host}" is not a valid IPv4 address`;
  return undefined;
}
