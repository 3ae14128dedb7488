import { z } from 'zod';
import { acmeHostProblem, MAX_ACME_HOSTS } from './acme-hosts.js';
import { CERTIFICATE_NAME_PATTERN } from './certificate-names.js';
import { durationSchema as duration } from './duration.js';

/**
 * Automatic certificates from an ACME CA (Let's Encrypt, ZeroSSL, a private step-ca, or
 * Pebble in tests), validated with http-01 on the plain-HTTP listeners: the CA's
 * validator must reach one of them on port 80 by the certificate's host names.
 */
export const acme = z
  .object({
    /** The CA's ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
    directory: z.url({ protocol: /^https?$/, error: 'must be the http(s) URL of an ACME directory' }),
    /** Contact address the CA may write to about expiry or account problems (optional). */
    email: z.email().optional(),
    /** PEM file of the CA certificates trusted, instead of Node's bundled roots, for the directory's own HTTPS (a private or test CA). Read at each order. */
    ca_file: z.string().min(1).optional(),
    /** Renew a certificate this long before it expires (default 30d); each renewal comes up to a tenth of this (at most a day) earlier still, at random, so instances and certificates do not renew in lockstep. */
    renew_before: duration.default(30 * 86_400_000),
    /** Shortest time between two orders of one certificate (default 1h), so a renew_before as long as a certificate's lifetime renews it at this pace, not in a loop. */
    min_renew_interval: duration.default(3_600_000),
  })
  .strict();

/** A certificate switchyard obtains and renews by itself (SPEC §12). */
export const certificate = z
  .object({
    /** Name in certs_dir and the certificate API (as `cert list` shows it). */
    name: z.string().regex(CERTIFICATE_NAME_PATTERN, 'must be 1-128 letters, digits, "_", "." or "-", not starting with "."'),
    /** Host names on the certificate; no wildcards (http-01 cannot validate them). */
    hosts: z
      .array(
        z.string().superRefine((host, ctx) => {
          const problem = acmeHostProblem(host);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .min(1)
      .max(MAX_ACME_HOSTS)
      .transform((hosts) => [...new Set(hosts.map((h) => h.toLowerCase()))]),
    /** Obtain and renew it from the `acme` CA; the only kind declared in config for now (upload others with `cert add`). */
    acme: z.literal(true, { error: 'must be true: only ACME certificates are declared in config; upload others with `switchyard cert add`' }),
  })
  .strict();
