import { Switchyard } from '../app.js';
import { startPrimary, workerCount } from '../cluster/primary.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { exitOnUncaught } from '../fatal.js';
import { createLogger } from '../log.js';
import { EXIT } from './run.js';

/**
 * `switchyard start`: runs until SIGTERM/SIGINT (graceful drain, exit 0); SIGHUP
 * re-reads the config file and keeps the running config when the file is invalid. With
 * `workers` above 0 this process is the primary and the workers serve (src/cluster/).
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
  exitOnUncaught(log, EXIT.failed);
  let app: Switchyard;
  try {
    const workers = workerCount(config);
    app = workers === 0 ? await Switchyard.start(config, log) : await startPrimary(config, log, workers);
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
