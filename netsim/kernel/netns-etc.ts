/**
 * Per-namespace /etc files: `ip netns exec NS …` bind-mounts every file in
 * /etc/netns/NS/ over the same name in /etc, so a hosts file written there is
 * what programs in that namespace read as /etc/hosts. The lab uses it to give
 * its hosts a rendezvous *name* with A and AAAA records, inside the lab only.
 * The real /etc/hosts is never touched. Only directories named like the lab's
 * namespaces are ever written or removed.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const NETNS_ETC = '/etc/netns';
/** Same shape as names.ts's namespace names: `<prefix>-<runid>-<role>`. */
const OUR_NS = /^[a-z][a-z0-9]{0,7}-[0-9a-z]{4,8}-[a-z0-9]+$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** One name and the addresses it resolves to (IPv4 and/or IPv6). */
export interface LabName {
  readonly name: string;
  readonly addresses: readonly string[];
}

function dirOf(ns: string): string {
  if (!OUR_NS.test(ns)) throw new Error(`refusing /etc/netns for ${JSON.stringify(ns)}: not a lab namespace name`);
  return `${NETNS_ETC}/${ns}`;
}

/** Checks a name and its addresses; throws a clear error on anything else. */
export function checkLabName(n: LabName): LabName {
  if (!HOST_NAME.test(n.name)) throw new Error(`not a host name: ${JSON.stringify(n.name)}`);
  if (n.addresses.length === 0) throw new Error(`name ${n.name} needs at least one address`);
  for (const a of n.addresses) if (isIP(a) === 0) throw new Error(`name ${n.name}: not an IP address: ${JSON.stringify(a)}`);
  return n;
}

/** The hosts file text: loopback names (the file replaces /etc/hosts entirely) plus the lab's names. */
export function hostsFileText(names: readonly LabName[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const n of names) for (const a of checkLabName(n).addresses) lines.push(`${a}\t${n.name}`);
  return lines.join('\n') + '\n';
}

/** Writes /etc/netns/NS/hosts (creating the directories). */
export function writeNetnsHosts(ns: string, names: readonly LabName[]): void {
  const dir = dirOf(ns);
  const text = hostsFileText(names);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(`${dir}/hosts`, text, { mode: 0o644 });
}

/**
 * Makes /etc/netns/NS/<name>/ (a directory for a lab daemon's files, e.g.
 * miniupnpd's config) and returns its path, which the namespace sees as is
 * (and, bind-mounted, as /etc/<name> when that exists). Removed with the
 * namespace's other /etc/netns files (removeNetnsEtc, sweepStale).
 */
export function makeNetnsEtcDir(ns: string, name: string): string {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new Error(`bad /etc/netns directory name ${JSON.stringify(name)}`);
  const dir = `${dirOf(ns)}/${name}`;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** Removes /etc/netns/NS (if there), then /etc/netns itself if that left it empty. Never throws. */
export function removeNetnsEtc(ns: string): void {
  let dir: string;
  try {
    dir = dirOf(ns);
  } catch {
    return;
  }
  try {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort: sweepStale retries */
  }
  try {
    rmdirSync(NETNS_ETC); // only succeeds when empty: other users' entries are left alone
  } catch {
    /* not empty or not there */
  }
}

/** Lab-shaped names under /etc/netns (for the sweep of crashed runs). */
export function listNetnsEtc(): string[] {
  try {
    return readdirSync(NETNS_ETC).filter((n) => OUR_NS.test(n));
  } catch {
    return [];
  }
}
