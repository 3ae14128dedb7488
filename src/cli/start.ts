import type { Logger } from 'pino';
import { Switchyard } from '../app.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { EXIT } from './run.js';

/**
 * `switchyard start`: runs until SIGTERM/SIGINT (graceful drain, exit 0); SIGHUP
 * re-reads the config file and keeps the running config when the file is invalid.
 */
export async function startCommand(configFile: string): Promise<void> {
  let config: Config;
  try {
    config = await loadConfig(configFile);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${configFile}: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    throw err;
  }
  const log = createLogger(config.logging.level);
  exitOnUncaught(log);
  let app: Switchyard;
  try {
    app = await Switchyard.start(config, log);
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    // A setting only checkable at start (a state.tls file, a credential variable) is bad usage too.
    if (err instanceof ConfigError) {
      process.stderr.write(`${configFile}: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(EXIT.failed);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining in-flight requests');
    app.stop().then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(EXIT.failed);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    loadConfig(configFile)
      .then((next) => app.reload(next))
      .then(
        () => log.info({ file: configFile }, 'config reloaded'),
        (err: unknown) => log.error({ problems: err instanceof ConfigError ? err.problems : undefined, err }, 'config reload rejected; running config kept'),
      );
  });
}

/**
 * The last resort. Every timer and socket callback that can fail is guarded where it
 * runs (issue 11), so an exception that still arrives here comes from a state nobody
 * foresaw; serving on from it could do worse than stopping. As an nginx or Envoy worker
 * would, the process says so loudly (a fatal log line and stderr) and exits non-zero
 * at once, so the supervisor starts a clean one; there is no drain from an unknown state.
 */
function exitOnUncaught(log: Logger): void {
  const die = (kind: string) => (err: unknown) => {
    log.fatal({ err }, `${kind}; exiting`);
    process.stderr.write(`fatal: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT.failed);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}
