import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AcmeRequests } from '../../src/acme/requests-file.js';
import { SwitchyardError } from '../../src/errors.js';
import { captureLogger, removeTempDirs, tempDir } from '../tls/fixtures.js';

function onDisk(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('AcmeRequests', () => {
  afterAll(removeTempDirs);

  describe('#load', () => {
    it('reads no requests from a missing file, and logs nothing', async () => {
      const { log, lines } = captureLogger();
      const requests = new AcmeRequests(join(tempDir(), 'acme', 'requests.json'), log);
      await requests.load();
      expect(requests.all).toEqual([]);
      expect(lines).toEqual([]);
    });

    it('keeps the valid entries and names the skipped ones in a warning', async () => {
      const path = join(tempDir(), 'requests.json');
      writeFileSync(
        path,
        JSON.stringify({
          certificates: [
            { name: 'ok', hosts: ['a.example.com'] },
            { name: 'bad name', hosts: ['b.example.com'] },
            { name: 'nohosts', hosts: [] },
          ],
        }),
      );
      const { log, lines } = captureLogger();
      const requests = new AcmeRequests(path, log);
      await requests.load();
      expect(requests.all).toEqual([{ name: 'ok', hosts: ['a.example.com'] }]);
      const warning = lines.find((l) => l.msg === 'ignoring invalid entries of the ACME requests file');
      expect(warning).toMatchObject({ level: 40, file: path });
      expect(warning?.skipped).toHaveLength(2);
    });

    it('logs an unreadable file as an error and reads no requests', async () => {
      const path = join(tempDir(), 'requests.json');
      writeFileSync(path, '{ not json');
      const { log, lines } = captureLogger();
      const requests = new AcmeRequests(path, log);
      await requests.load();
      expect(requests.all).toEqual([]);
      expect(lines.find((l) => l.msg.startsWith('ACME requests file cannot be read'))).toMatchObject({ level: 50, file: path });
    });
  });

  describe('#add and #remove', () => {
    it('write the whole list (the folder made 0700, the file 0600) and change `all` once written', async () => {
      const path = join(tempDir(), 'acme', 'requests.json');
      const requests = new AcmeRequests(path, captureLogger().log);
      await requests.add({ name: 'one', hosts: ['one.example.com'] });
      await requests.add({ name: 'two', hosts: ['two.example.com'] });
      expect(onDisk(path)).toEqual({
        certificates: [
          { name: 'one', hosts: ['one.example.com'] },
          { name: 'two', hosts: ['two.example.com'] },
        ],
      });
      expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await requests.remove('one');
      expect(onDisk(path)).toEqual({ certificates: [{ name: 'two', hosts: ['two.example.com'] }] });
      expect(requests.all).toEqual([{ name: 'two', hosts: ['two.example.com'] }]);
      const reread = new AcmeRequests(path, captureLogger().log);
      await reread.load();
      expect(reread.all).toEqual(requests.all);
    });

    it('reject with 500 STATE_WRITE_FAILED when the file cannot be written, and change nothing', async () => {
      const dir = tempDir();
      // The requests folder is a file: the write cannot make it.
      writeFileSync(join(dir, 'acme'), 'in the way');
      const requests = new AcmeRequests(join(dir, 'acme', 'requests.json'), captureLogger().log);
      const err = await requests.add({ name: 'one', hosts: ['one.example.com'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SwitchyardError);
      expect((err as SwitchyardError).code).toBe('STATE_WRITE_FAILED');
      expect(requests.all).toEqual([]);
      // A failed write does not hold up the next one.
      rmSync(join(dir, 'acme'));
      await requests.add({ name: 'two', hosts: ['two.example.com'] });
      expect(requests.all).toEqual([{ name: 'two', hosts: ['two.example.com'] }]);
      expect(onDisk(join(dir, 'acme', 'requests.json'))).toEqual({ certificates: [{ name: 'two', hosts: ['two.example.com'] }] });
    });

    it('keep both of two requests made before the first is written, and a removal made alongside them', async () => {
      const path = join(tempDir(), 'acme', 'requests.json');
      const requests = new AcmeRequests(path, captureLogger().log);
      await requests.add({ name: 'old', hosts: ['old.example.com'] });
      await Promise.all([
        requests.add({ name: 'one', hosts: ['one.example.com'] }),
        requests.add({ name: 'two', hosts: ['two.example.com'] }),
        requests.remove('old'),
      ]);
      const expected = [
        { name: 'one', hosts: ['one.example.com'] },
        { name: 'two', hosts: ['two.example.com'] },
      ];
      expect(requests.all).toEqual(expected);
      expect(onDisk(path)).toEqual({ certificates: expected });
    });
  });
});
