/**
 * Can the kernel lane run here? Root, Linux, and the tools it drives.
 * `kernelLabSkipReason()` returns undefined when it can, else a message that
 * says why not and how to run it (for node:test's `{ skip }`).
 */
import { execFileSync } from 'node:child_process';

export const INSTALL_HINT = 'apt-get install nftables conntrack iproute2 stun-client stun-server miniupnpd-nftables miniupnpc natpmpc';

type Tool = { cmd: string; args: string[]; pkg: string };

const TOOLS: readonly Tool[] = [
  { cmd: 'ip', args: ['-V'], pkg: 'iproute2' },
  { cmd: 'nft', args: ['--version'], pkg: 'nftables' },
  { cmd: 'conntrack', args: ['--version'], pkg: 'conntrack' },
  { cmd: 'ss', args: ['-V'], pkg: 'iproute2' },
  { cmd: 'sysctl', args: ['--version'], pkg: 'procps' },
  { cmd: 'stun', args: [], pkg: 'stun-client' },
  { cmd: 'stund', args: ['--help'], pkg: 'stun-server' },
];

/** The upnp-router profile's daemon, and the independent clients that check its table: only labs with such a site need them. */
const PORTMAP_TOOLS: readonly Tool[] = [
  { cmd: 'miniupnpd', args: ['--version'], pkg: 'miniupnpd-nftables' },
  { cmd: 'upnpc', args: [], pkg: 'miniupnpc' },
  { cmd: 'natpmpc', args: [], pkg: 'natpmpc' },
];

function have(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch (e) {
    // Present but exits non-zero (stun/stund print usage and fail): still there.
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const cached = new Map<boolean, string | undefined>();

export interface KernelLabNeeds {
  /** The lab builds an `upnp-router` site (miniupnpd, and upnpc/natpmpc to check its table). */
  portmapRouter?: boolean;
}

export function kernelLabSkipReason(needs: KernelLabNeeds = {}): string | undefined {
  const key = needs.portmapRouter === true;
  if (!cached.has(key)) cached.set(key, compute(key ? [...TOOLS, ...PORTMAP_TOOLS] : TOOLS));
  return cached.get(key);
}

function compute(tools: readonly Tool[]): string | undefined {
  if (process.platform !== 'linux') return `the netsim kernel lane needs Linux network namespaces (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return `the netsim kernel lane needs root (network namespaces, nftables); run the tests with sudo, e.g. sudo node --import tsx --test test/netsim-kernel/*.test.ts`;
  }
  const missing = tools.filter((t) => !have(t.cmd, t.args));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
    return `the netsim kernel lane needs ${missing.map((t) => t.cmd).join(', ')} (missing); install with: ${INSTALL_HINT} (missing packages: ${pkgs})`;
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore', timeout: 5000 });
  } catch (e) {
    return `ip netns does not work here (${(e as Error).message}); the kernel lane needs a kernel with network namespaces and CAP_SYS_ADMIN`;
  }
  return undefined;
}
