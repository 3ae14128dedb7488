import { createRequire } from 'node:module';

/**
 * The one place switchyard touches a private Node API: the llhttp binding that node:http
 * itself parses with (`_http_common`'s HTTPParser). The raw engine uses it to parse
 * upstream responses strictly and fast. Nothing else may import `_http_common`; if a
 * Node release changes the binding, `checkParserBinding()` says so at startup instead of
 * requests failing later.
 */

/** The slice of the parser instance the engine uses. */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  free(): void;
  [callback: number]: unknown;
}

/** The slice of the parser class the engine uses: constructor, mode and callback slots. */
export interface LlhttpParserClass {
  new (): LlhttpParser;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
}

const CONSTANTS = ['RESPONSE', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete'] as const;
const METHODS = ['initialize', 'execute', 'finish', 'free'] as const;

/** What is missing or wrong in `candidate` as a parser class; empty when it has everything the engine uses. */
export function bindingProblems(candidate: unknown): string[] {
  if (typeof candidate !== 'function') return ['HTTPParser is not exported'];
  const problems: string[] = [];
  const statics = candidate as unknown as Record<string, unknown>;
  for (const name of CONSTANTS) if (typeof statics[name] !== 'number') problems.push(`HTTPParser.${name} is missing`);
  const proto = (candidate as { prototype?: Record<string, unknown> }).prototype;
  for (const name of METHODS) if (typeof proto?.[name] !== 'function') problems.push(`HTTPParser.prototype.${name}() is missing`);
  return problems;
}

/** What a response parser reports, in order: header pairs flushed early (a head spanning reads, or trailers), the head, body chunks, the end. */
export interface ResponseEvents {
  onHeaders(headers: string[]): void;
  /** The head is complete (`headers`: the pairs not flushed early); returns 1 when the response has no body, else 0. */
  onHead(status: number, message: string, headers: string[] | undefined, upgrade: boolean, keepAlive: boolean): number;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

/** A strict response parser of `Parser` (heads up to `maxHeaderSize` bytes) reporting to `events`. */
export function responseParser(Parser: LlhttpParserClass, maxHeaderSize: number, events: ResponseEvents): LlhttpParser {
  const parser = new Parser();
  parser.initialize(Parser.RESPONSE, {}, maxHeaderSize, 0);
  parser[Parser.kOnHeaders] = (headers: string[]) => events.onHeaders(headers);
  parser[Parser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    message: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => events.onHead(status, message, headers, upgrade, keepAlive);
  parser[Parser.kOnBody] = (chunk: Buffer) => events.onBody(chunk);
  parser[Parser.kOnMessageComplete] = () => events.onComplete();
  return parser;
}

/** What a parse of CANNED must report. */
const CANNED = Buffer.from('HTTP/1.1 203 Canned\r\nContent-Length: 2\r\nX-Check: yes\r\n\r\nok', 'latin1');

/** Parses CANNED with `Parser` and returns what differs from the expected events; empty when all is right. */
export function cannedParseProblems(Parser: LlhttpParserClass): string[] {
  const seen = { status: 0, message: '', headers: [] as string[], keepAlive: false, body: '', complete: false };
  const parser = responseParser(Parser, 16_384, {
    onHeaders: (headers) => {
      if (Array.isArray(headers)) seen.headers.push(...headers);
    },
    onHead: (status, message, headers, _upgrade, keepAlive) => {
      if (Array.isArray(headers)) seen.headers.push(...headers);
      seen.status = Number(status);
      seen.message = String(message);
      seen.keepAlive = keepAlive === true;
      return 0;
    },
    onBody: (chunk) => {
      if (Buffer.isBuffer(chunk)) seen.body += chunk.toString('latin1');
    },
    onComplete: () => {
      seen.complete = true;
    },
  });
  let result: unknown;
  try {
    result = parser.execute(CANNED);
  } catch (err) {
    result = err;
  } finally {
    parser.free();
  }
  const problems: string[] = [];
  if (result instanceof Error) problems.push(`execute() failed: ${result.message}`);
  else if (result !== CANNED.length) problems.push(`execute() consumed ${String(result)} of ${CANNED.length} bytes`);
  if (seen.status !== 203 || seen.message !== 'Canned') problems.push(`status line read as ${seen.status} "${seen.message}"`);
  if (seen.headers.join('|') !== 'Content-Length|2|X-Check|yes') problems.push(`headers read as [${seen.headers.join(', ')}]`);
  if (!seen.keepAlive) problems.push('keep-alive not reported');
  if (seen.body !== 'ok') problems.push(`body read as "${seen.body}"`);
  if (!seen.complete) problems.push('message completion not reported');
  return problems;
}

/** Loads the binding at import; a failure is kept for checkParserBinding() to report. */
function load(): { Parser: LlhttpParserClass | undefined; problems: string[] } {
  let candidate: unknown;
  try {
    candidate = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: unknown }).HTTPParser;
  } catch (err) {
    return { Parser: undefined, problems: [`require('_http_common') failed: ${(err as Error).message}`] };
  }
  const problems = bindingProblems(candidate);
  return problems.length === 0 ? { Parser: candidate as LlhttpParserClass, problems } : { Parser: undefined, problems };
}

const loaded = load();
let checked = false;

/** The error naming the Node version and what is wrong. */
function bindingError(problems: readonly string[]): Error {
  return new Error(
    `switchyard's forwarding engine cannot use Node ${process.version}'s HTTP parser (node:_http_common HTTPParser): ${problems.join('; ')}. ` +
      'Run switchyard on a Node version it supports (package.json "engines"), and report this Node version.',
  );
}

/**
 * The startup self-check: the binding loaded, has every constant and method the engine
 * uses, and parses a small canned response correctly. Throws an Error naming the Node
 * version and what is wrong; runs its parse once per process.
 */
export function checkParserBinding(): void {
  if (checked) return;
  if (loaded.Parser === undefined) throw bindingError(loaded.problems);
  const problems = cannedParseProblems(loaded.Parser);
  if (problems.length > 0) throw bindingError(problems);
  checked = true;
}

/** The parser class; call checkParserBinding() first (the engine's constructor does). */
export function parserClass(): LlhttpParserClass {
  if (loaded.Parser === undefined) throw bindingError(loaded.problems);
  return loaded.Parser;
}
