import { createWriteStream } from 'node:fs';
import { BurrowError } from '../src/errors.js';
import { Logger, type LogFields, type LogLevel } from '../src/log/logger.js';
import { SERVICE_NAME } from '../src/control/messages.js';
import { RendezvousServer } from '../rendezvous/server.js';
import { Provider } from '../peer/provider.js';
import { Visitor } from '../peer/visitor.js';
import { parseHostPort } from '../peer/endpoint-arg.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import type { DirectConfig } from '../peer/direct-setup.js';
import { bindStunSockets } from '../rendezvous/stun-bind.js';
import { UdpService } from '../rendezvous/udp-service.js';

/** What a running role offers the process: a way to stop, and a way to fail. */
export interface Running {
  stop(): Promise<void> | void;
}

export type FatalHandler = (err: BurrowError) => void;

export function checkMode(mode: string | undefined): void {
  if (mode === undefined || mode === 'stcp' || mode === 'xtcp') return;
  throw new BurrowError('ERR_INVALID_ARGUMENT', `--mode must be "xtcp" (direct, relay fallback) or "stcp" (relay only), got "${mode}"`);
}

export function checkName(name: string): string {
  if (!SERVICE_NAME.test(name)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `service name "${name}" is invalid: use 1-63 letters, digits, ".", "_" or "-"`);
  }
  return name;
}

export function required(value: string | undefined, flag: string, env?: string): string {
  if (value === undefined || value === '') {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${flag} is required${env ? ` (or set ${env})` : ''}`);
  }
  return value;
}

export interface RendezvousCliOptions {
  listen: string;
  token: string;
  tap?: string;
  relayRate?: number;
  /** UDP (STUN) port: a number, "off", or undefined = the TCP port's number. */
  udpPort?: string;
  /** Second local address for RFC 5780 NAT discovery (change-IP answers). */
  altAddress?: string;
}

/** "off" -> null; undefined -> the TCP port; else a port number (0 = any free pair). */
export function parseUdpPort(text: string | undefined, tcpPort: number): number | null {
  if (text === undefined) return tcpPort;
  if (text === 'off') return null;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65534) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--udp-port must be a port number (0-65534; PORT+1 is used too) or "off", got "${text}"`);
  }
  return Number(text);
}

/**
 * The server logs `listening` with its TCP address; the UDP addresses belong
 * on the same line, so scripts waiting for it learn both at once.
 */
class ListeningLogger extends Logger {
  constructor(
    private readonly base: Logger,
    private readonly extra: LogFields,
  ) {
    super();
  }
  override log(level: LogLevel, event: string, fields: LogFields = {}): void {
    this.base.log(level, event, event === 'listening' ? { ...fields, ...this.extra } : fields);
  }
  override child(fields: LogFields): Logger {
    return this.base.child(fields);
  }
}

const SAME_PORT_ATTEMPTS = 5;

export async function runRendezvous(opts: RendezvousCliOptions, log: Logger): Promise<Running> {
  const listen = parseHostPort(opts.listen, '--listen');
  const udpPort = parseUdpPort(opts.udpPort, listen.port);
  if (udpPort === null && opts.altAddress) throw new BurrowError('ERR_INVALID_ARGUMENT', '--alt-address needs the UDP port (not --udp-port off)');
  let tap: ((dir: 'in' | 'out', bytes: Buffer) => void) | undefined;
  let tapFile: ReturnType<typeof createWriteStream> | undefined;
  if (opts.tap) {
    tapFile = createWriteStream(opts.tap, { flags: 'a' });
    const file = tapFile;
    tap = (_dir, bytes) => void file.write(bytes);
    log.warn('tap-enabled', { file: opts.tap, note: 'every byte the rendezvous sends or receives is appended to this file' });
  }
  // With one port number for TCP and UDP and "any free port" asked for, the
  // UDP pair is found first and TCP takes the same number (retried if taken).
  const sharedEphemeral = udpPort === 0 && opts.udpPort === undefined;
  for (let attempt = 1; ; attempt++) {
    let udp: UdpService | null = null;
    if (udpPort !== null) {
      const bound = await bindStunSockets({ host: listen.host, port: udpPort, altAddress: opts.altAddress ?? null }).catch((err: unknown) => {
        if (err instanceof BurrowError && err.code === 'ERR_SOCKET_BIND') {
          throw new BurrowError('ERR_SOCKET_BIND', `${err.message} (the STUN port; choose another with --udp-port N, or --udp-port off)`, { cause: err });
        }
        throw err;
      });
      udp = new UdpService(bound.layout, bound.sockets);
    }
    const tcpPort = sharedEphemeral && udp ? udp.endpoints()[0]!.endpoint.port : listen.port;
    const server = new RendezvousServer({
      host: listen.host,
      port: tcpPort,
      token: opts.token,
      logger: udp ? new ListeningLogger(log, { udp: udp.describe() }) : log,
      tap,
      limits: opts.relayRate ? { relayBytesPerSecond: opts.relayRate } : {},
    });
    try {
      await server.listen();
    } catch (err) {
      udp?.close();
      const e = err as NodeJS.ErrnoException;
      if (sharedEphemeral && e.code === 'EADDRINUSE' && attempt < SAME_PORT_ATTEMPTS) continue;
      throw new BurrowError('ERR_INVALID_ARGUMENT', `cannot listen on ${listen.host}:${tcpPort}: ${e.code ?? e.message}`);
    }
    return {
      async stop() {
        udp?.close();
        await server.close();
        tapFile?.end();
      },
    };
  }
}

export function runProvider(
  opts: { server: string; token: string; name: string; secret: string; to: string; mode?: 'xtcp' | 'stcp'; direct?: DirectConfig },
  log: Logger,
  onFatal: FatalHandler,
): Running {
  const provider = new Provider({
    server: parseHostPort(opts.server, '--server'),
    token: opts.token,
    services: [{ name: checkName(opts.name), secret: opts.secret, target: parseHostPort(opts.to, '--to', '127.0.0.1') }],
    logger: log.child({ service: opts.name }),
    mode: opts.mode ?? PEER_DEFAULTS.mode,
    ...(opts.direct ? { direct: opts.direct } : {}),
  });
  provider.on('fatal', onFatal);
  provider.start();
  log.info('provider-started', { service: opts.name, to: opts.to, server: opts.server, mode: opts.mode ?? PEER_DEFAULTS.mode });
  return { stop: () => provider.stop() };
}

export async function runVisitor(
  opts: {
    server: string;
    token: string;
    name: string;
    secret: string;
    listen: string;
    mode?: 'xtcp' | 'stcp';
    relay?: 'fallback' | 'never';
    direct?: DirectConfig;
  },
  log: Logger,
  onFatal: FatalHandler,
): Promise<Running> {
  const listenText = /^\d+$/.test(opts.listen) ? `127.0.0.1:${opts.listen}` : opts.listen;
  const visitor = new Visitor({
    server: parseHostPort(opts.server, '--server'),
    token: opts.token,
    service: checkName(opts.name),
    secret: opts.secret,
    listen: parseHostPort(listenText, '--listen', '127.0.0.1'),
    logger: log.child({ service: opts.name }),
    mode: opts.mode ?? PEER_DEFAULTS.mode,
    relay: opts.relay ?? PEER_DEFAULTS.relay,
    ...(opts.direct ? { direct: opts.direct } : {}),
  });
  visitor.on('fatal', onFatal);
  await visitor.start();
  return { stop: () => visitor.stop() };
}
