import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** A config that failed to parse or validate; `problems` lists each error by its path. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`invalid config:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Formats a schema path as `services[0].stacks.blue.targets[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/** Validates an already parsed document; throws ConfigError listing every problem. */
export function validateConfig(document: unknown): Config {
  const result = configSchema.safeParse(document);
  if (!result.success) throw new ConfigError(problemsOf(result.error));
  return deepFreeze(result.data);
}

/** Parses YAML text into a validated, frozen config. */
export function parseConfig(text: string): Config {
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    throw new ConfigError([`(yaml): ${(err as Error).message.split('\n')[0]}`]);
  }
  return validateConfig(document);
}

/** Reads and validates a config file. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`(file): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseConfig(text);
}

/** Freezes a value and everything it holds (a config is never changed in place). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
