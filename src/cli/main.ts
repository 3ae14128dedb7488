#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { AdminClient } from './admin-client.js';
import { registerCertCommands } from './commands/cert.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerServiceCommands } from './commands/service.js';
import { EXIT } from './run.js';
import { startCommand } from './start.js';

const DEFAULT_CONFIG = 'config/switchyard.yaml';

const program = new Command('switchyard')
  .description('reverse proxy and load balancer for blue-green cut-over')
  .option('--admin <url>', 'admin API base URL (default $SWITCHYARD_ADMIN or http://127.0.0.1:9901)')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const client = () => AdminClient.fromEnv(program.opts<{ admin?: string }>().admin);

program
  .command('start')
  .description('run the proxy')
  .option('--config <file>', 'config file', DEFAULT_CONFIG)
  .action((opts: { config: string }) => startCommand(opts.config));

program
  .command('check-config')
  .description('validate a config file (exit 2 when invalid)')
  .option('--config <file>', 'config file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    try {
      const config = await loadConfig(opts.config);
      process.stdout.write(`${opts.config}: ok (${config.services.length} services, ${config.listeners.length} listeners)\n`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`${opts.config}: ${err.message}\n`);
      process.exitCode = EXIT.usage;
    }
  });

registerServiceCommands(program, client);
registerCertCommands(program, client);
registerRolloutCommands(program, client);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every other commander error is bad usage.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = EXIT.failed;
  }
}
