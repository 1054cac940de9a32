/**
 * `docker-patcher serve [--port N] [--host H]`: the browser demo over http.
 * The server (web-server.ts) is imported only when this command runs:
 * node:http is heavy (on Node 22 it compiles undici's WASM), and every other
 * command, apply on a device above all, should not pay for it.
 */
import { Command, InvalidArgumentError } from 'commander';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return port;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the browser demo (diff and apply images in a web page) over http')
    .option('-p, --port <N>', 'TCP port (0 = any free port)', parsePort, 8080)
    .option('--host <address>', 'address to listen on (0.0.0.0 = every interface)', '127.0.0.1')
    .addHelpText(
      'after',
      `
Prints the page's URL on stdout and serves until Ctrl-C. The page does all
the work in your browser (a Web Worker); nothing is uploaded.

Examples:
  $ docker-patcher serve
  $ docker-patcher serve --port 0 --host 0.0.0.0`,
    )
    .action(async (options: { port: number; host: string }, command: Command) => {
      // Global --quiet read directly: importing program.ts here would tie the server (and its tests) to every command.
      const { quiet = false } = command.optsWithGlobals<{ quiet?: boolean }>();
      const { startServer } = await import('../web-server.js');
      const running = await startServer({ port: options.port, host: options.host });
      process.stdout.write(`${running.url}\n`);
      if (!quiet) process.stderr.write('serving the browser demo; press Ctrl-C to stop\n');
      await new Promise<void>((resolveClosed) => running.server.once('close', () => resolveClosed()));
    });
}
