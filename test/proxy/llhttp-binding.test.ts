import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindingProblems, cannedParseProblems, checkParserBinding, type LlhttpParserClass } from '../../src/proxy/llhttp-binding.js';

const RealParser = (createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpParserClass }).HTTPParser;
const BINDING = join(import.meta.dirname, '../../dist/proxy/llhttp-binding.js');

describe('llhttp-binding', () => {
  describe('checkParserBinding', () => {
    it('passes on this Node: the binding has what the engine uses and parses the canned response', () => {
      expect(() => checkParserBinding()).not.toThrow();
      expect(bindingProblems(RealParser)).toEqual([]);
      expect(cannedParseProblems(RealParser)).toEqual([]);
    });

    it('fails the start with an error naming the Node version and what is missing when the binding changed', () => {
      // A stand-in for a future Node: `_http_common` exports a parser without the callback slots.
      const script = `require('_http_common').HTTPParser = class { initialize() {} execute() {} finish() {} free() {} };
import(${JSON.stringify(BINDING)}).then((m) => m.checkParserBinding());`;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`Node ${process.version}`);
      expect(run.stderr).toContain('HTTPParser.RESPONSE is missing');
      expect(run.stderr).toContain('HTTPParser.kOnBody is missing');
    });
  });

  describe('bindingProblems', () => {
    it('names each missing constant and method', () => {
      expect(bindingProblems(undefined)).toEqual(['HTTPParser is not exported']);
      class Partial {
        static RESPONSE = 2;
        static kOnHeaders = 1;
        static kOnHeadersComplete = 2;
        static kOnMessageComplete = 4;
        initialize(): void {}
        execute(): number {
          return 0;
        }
      }
      expect(bindingProblems(Partial)).toEqual([
        'HTTPParser.kOnBody is missing',
        'HTTPParser.prototype.finish() is missing',
        'HTTPParser.prototype.free() is missing',
      ]);
    });
  });

  describe('cannedParseProblems', () => {
    it('reports a parser that no longer calls back as the engine expects', () => {
      // The real parser with its callback slots shifted by one: every event lands in the wrong slot.
      const Shifted = Object.assign(class extends (RealParser as unknown as new () => object) {}, {
        RESPONSE: RealParser.RESPONSE,
        kOnHeaders: RealParser.kOnHeaders + 1,
        kOnHeadersComplete: RealParser.kOnHeadersComplete + 1,
        kOnBody: RealParser.kOnBody + 1,
        kOnMessageComplete: RealParser.kOnMessageComplete + 1,
      }) as unknown as LlhttpParserClass;
      const problems = cannedParseProblems(Shifted);
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.join('; ')).toContain('status line read as');
    });
  });
});
