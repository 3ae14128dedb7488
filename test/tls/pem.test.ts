import { describe, expect, it } from 'vitest';
import { scanPem } from '../../src/tls/pem.js';

const block = (label: string, body = 'AAAA') => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;

function reasonOf(text: string, max = 16): string {
  const scan = scanPem(text, max);
  if (scan.ok) throw new Error('expected a refusal');
  return scan.reason;
}

describe('scanPem', () => {
  it('returns the blocks in order with their labels, dropping the text around them', () => {
    const text = `Bag Attributes\n${block('CERTIFICATE', 'ONE')}\nsubject=...\r\n${block('EC PARAMETERS')}\n${block('EC PRIVATE KEY', 'TWO')}\ntrailing`;
    const scan = scanPem(text, 16);
    expect(scan).toEqual({
      ok: true,
      blocks: [
        { label: 'CERTIFICATE', text: block('CERTIFICATE', 'ONE') },
        { label: 'EC PARAMETERS', text: block('EC PARAMETERS') },
        { label: 'EC PRIVATE KEY', text: block('EC PRIVATE KEY', 'TWO') },
      ],
    });
  });

  it('finds no block in text without a BEGIN line', () => {
    expect(scanPem('', 16)).toEqual({ ok: true, blocks: [] });
    expect(scanPem('hello -----END CERTIFICATE-----', 16)).toEqual({ ok: true, blocks: [] });
  });

  it('refuses more than `max` blocks', () => {
    expect(scanPem(block('CERTIFICATE').repeat(3), 3).ok).toBe(true);
    expect(reasonOf(block('CERTIFICATE').repeat(4), 3)).toBe('more than 3 PEM blocks');
  });

  it('refuses a block without its END line', () => {
    expect(reasonOf(`${block('CERTIFICATE')}\n-----BEGIN CERTIFICATE-----\nAAAA\n`)).toBe('PEM block 2 (CERTIFICATE) has no "-----END CERTIFICATE-----" line');
    // An END line of another label does not close it.
    expect(reasonOf('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END CERTIFICATE-----\n')).toMatch(/has no "-----END PRIVATE KEY-----" line/);
  });

  it('refuses a BEGIN line inside a block', () => {
    expect(reasonOf(`-----BEGIN CERTIFICATE-----\nAAAA\n${block('CERTIFICATE')}`)).toBe('PEM block 1 (CERTIFICATE) has a BEGIN line before its END line');
  });

  it.each([
    ['a lower-case label', '-----BEGIN certificate-----\nAAAA\n-----END certificate-----'],
    ['an empty label', '-----BEGIN -----\nAAAA\n-----END -----'],
    ['a BEGIN line without closing dashes', '-----BEGIN CERTIFICATE\nAAAA\n'],
    ['a label too long', `-----BEGIN ${'A'.repeat(65)}-----\nAAAA\n-----END ${'A'.repeat(65)}-----`],
  ])('refuses %s', (_what, text) => {
    expect(reasonOf(text)).toBe('PEM block 1 has a malformed BEGIN line');
  });

  // Issue 11: a lazy-regex scan rescanned the rest of the text from each BEGIN line (seconds for 1 MB).
  it('answers at once for 1 MB of BEGIN lines, or of empty blocks', () => {
    const started = performance.now();
    expect(reasonOf('-----BEGIN CERTIFICATE-----\n'.repeat(35_000))).toMatch(/PEM block 1 \(CERTIFICATE\) has no "-----END CERTIFICATE-----" line/);
    expect(reasonOf('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'.repeat(20_000))).toBe('more than 16 PEM blocks');
    expect(reasonOf(`${'-----BEGIN CERTIFICATE-----\n'.repeat(35_000)}-----END CERTIFICATE-----`)).toMatch(/BEGIN line before its END line/);
    // Milliseconds when linear; the quadratic scan took seconds. Generous for a loaded machine.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
