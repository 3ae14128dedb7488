/** One PEM block (RFC 7468 §2): its label and its text from the BEGIN line to the END line. */
export interface PemBlock {
  /** `CERTIFICATE`, `PRIVATE KEY`, `EC PRIVATE KEY`, … */
  readonly label: string;
  /** `-----BEGIN <label>-----` … `-----END <label>-----`, without the final line break. */
  readonly text: string;
}

/** The blocks of a PEM text, or why it is not one. */
export type PemScan = { readonly ok: true; readonly blocks: PemBlock[] } | { readonly ok: false; readonly reason: string };

const BEGIN = '-----BEGIN ';
const DASHES = '-----';
/** RFC 7468 labels are short upper-case words; real ones are under 40 characters. */
const MAX_LABEL = 64;
const LABEL = /^[A-Z0-9]+(?: [A-Z0-9]+)*$/;

/**
 * Splits `text` into its PEM blocks in order, dropping the text around them (OpenSSL's
 * "Bag Attributes", comments), refusing more than `max` blocks, a block without its END
 * line and a BEGIN line inside a block.
 * Linear in the length of `text`: each search starts where the previous one ended, so no
 * character is looked at more than a few times, whatever the input (a regex with a lazy
 * `[\s\S]*?` between BEGIN and END rescans the rest of the text from every BEGIN line:
 * 35,000 BEGIN lines took seconds).
 */
export function scanPem(text: string, max: number): PemScan {
  const blocks: PemBlock[] = [];
  let begin = text.indexOf(BEGIN);
  while (begin !== -1) {
    if (blocks.length === max) return { ok: false, reason: `more than ${max} PEM blocks` };
    const labelStart = begin + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelStart);
    const label = labelEnd === -1 || labelEnd - labelStart > MAX_LABEL ? '' : text.slice(labelStart, labelEnd);
    if (!LABEL.test(label)) return { ok: false, reason: `PEM block ${blocks.length + 1} has a malformed BEGIN line` };
    const endLine = `-----END ${label}-----`;
    const end = text.indexOf(endLine, labelEnd + DASHES.length);
    if (end === -1) return { ok: false, reason: `PEM block ${blocks.length + 1} (${label}) has no "${endLine}" line` };
    const next = text.indexOf(BEGIN, labelEnd + DASHES.length);
    if (next !== -1 && next < end) return { ok: false, reason: `PEM block ${blocks.length + 1} (${label}) has a BEGIN line before its END line` };
    blocks.push({ label, text: text.slice(begin, end + endLine.length) });
    begin = next;
  }
  return { ok: true, blocks };
}
