/**
 * Debian's dnsmasq as a tiny authoritative-looking DNS server inside a lab
 * namespace: it answers the A records it is given and nothing else. No system
 * configuration is read or touched (`--conf-file=/dev/null --no-resolv
 * --no-hosts`), it binds only the address it is given, logs every query to
 * stderr, and keeps its pid file in a temporary directory removed on stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, LabNode, LabProcess } from './lab.js';
import { waitUdpBound } from './udp-bound.js';

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export interface DnsmasqOptions {
  /** The address it binds (a lab address of the node). */
  ip: string;
  port: number;
  /** name -> IPv4 address. */
  records: Readonly<Record<string, string>>;
}

export interface Dnsmasq {
  readonly process: LabProcess;
  /** How many queries it logged for `name`. */
  queries(name: string): number;
  stop(): Promise<void>;
}

export async function startDnsmasq(lab: Lab, node: LabNode, o: DnsmasqOptions): Promise<Dnsmasq> {
  const entries = Object.entries(o.records);
  for (const [name, addr] of entries) {
    if (!NAME.test(name) || !IPV4.test(addr)) throw new Error(`bad dnsmasq record ${name} -> ${addr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'burrow-dnsmasq-'));
  const proc = lab.spawn(node, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    `--listen-address=${o.ip}`,
    '--bind-interfaces',
    `--port=${o.port}`,
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-facility=-',
    '--log-queries',
    ...entries.map(([name, addr]) => `--address=/${name}/${addr}`),
  ]);
  // The lab kills dnsmasq on exit; the directory is ours to remove, even when the test process dies early.
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const stop = async (): Promise<void> => {
    await proc.stop(1000);
    process.removeListener('exit', removeDir);
    removeDir();
  };
  try {
    await waitUdpBound(lab, node, `${o.ip}:${o.port}`, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    process: proc,
    queries: (name) => (proc.stderr() + proc.stdout()).split('\n').filter((l) => new RegExp(`query\\[A\\] ${name.replace(/\./g, '\\.')} from`).test(l)).length,
    stop,
  };
}
