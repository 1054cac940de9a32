/**
 * The options every command that talks to a registry shares (--username,
 * --password-stdin, --ca-cert, --insecure-registry) and the client they
 * make. The registry modules are imported only when used.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { RegistryClient } from '../registry/client.js';
import { usageError } from './io.js';
import { ioError } from '../io/fs-errors.js';

export interface RegistryCliOptions {
  username?: string;
  passwordStdin?: boolean;
  caCert: string[];
  insecureRegistry: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registryOptions(): Option[] {
  return [
    new Option('-u, --username <name>', 'registry user (default: the auths entry of ~/.docker/config.json, else anonymous)'),
    new Option('--password-stdin', 'read the registry password (or token) from stdin, with --username'),
    new Option('--ca-cert <file>', 'trust this PEM CA certificate for the registry too (repeatable)').argParser(collect).default([]),
    new Option('--insecure-registry <host>', 'allow plain http and unchecked TLS for this registry host (repeatable; loopback registries may use http without it)').argParser(collect).default([]),
  ];
}

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw usageError('--password-stdin: stdin was empty');
  return password;
}

/** A client for `registry` configured from the options. */
export async function registryClient(registry: string, options: RegistryCliOptions): Promise<RegistryClient> {
  return (await registryClients(options))(registry);
}

/**
 * Clients for any number of registries from one set of options: the
 * password is read from stdin once, and each registry gets one client
 * (tokens kept across uses).
 */
export async function registryClients(options: RegistryCliOptions): Promise<(registry: string) => RegistryClient> {
  if (options.passwordStdin && !options.username) throw usageError('--password-stdin needs --username');
  if (options.username && !options.passwordStdin) throw usageError('--username needs --password-stdin (passwords are never taken as arguments)');
  const ca = options.caCert.map((path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw ioError('read', 'CA certificate', path, err);
    }
  });
  const credentials = options.username ? { username: options.username, password: await readPassword() } : undefined;
  const { RegistryClient } = await import('../registry/client.js');
  const clients = new Map<string, RegistryClient>();
  return (registry) => {
    let client = clients.get(registry);
    if (!client) clients.set(registry, (client = new RegistryClient(registry, { credentials, ca, insecureRegistries: options.insecureRegistry })));
    return client;
  };
}
