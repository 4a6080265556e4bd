/**
 * The kernel lab: internet-like topologies built from network namespaces.
 *
 *                         ┌──────────── core ─────────────┐   (router, forwarding on,
 *                         │ c0        cx        c1 … c31  │    optional per-link loss)
 *                         └─┬──────────┬─────────┬────────┘
 *           198.51.100.0/24 │ 192.0.2.0/24       │ 203.0.113.8k/29
 *                    server │    outside         │ wan
 *     .2 + .3 (stund -h -a) │    .2              nat<k>  (nftables profile; for double NAT:
 *                                                 │ lan     cgn<k> -- 100.64.k.0/24 -- nat<k>)
 *                                          10.k.0.0/24 (bridge)
 *                                             h0  h1 …
 *
 * Everything it creates carries the run id (see names.ts). Every command is an
 * executable plus an argument array, every wait is bounded, and `close()`
 * (also run on SIGINT/SIGTERM/SIGHUP/exit) kills every process it started and
 * deletes every namespace it made.
 */
import { at } from '../../src/util/at.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandError, OutputBuffer, run, sleep, type RunOptions, type RunResult } from './exec.js';
import {
  DEFAULT_PREFIX,
  checkPrefix,
  ifName,
  newRunId,
  nsName,
  parseNsName,
  tableName,
} from './names.js';
import {
  destroyNamespace,
  destroyNamespaceSync,
  killAllSync,
  listNamespaces,
  listNamespacesSync,
  registerLab,
  unregisterLab,
} from './cleanup.js';
import { getProfile, type NatProfile, type NatRulesContext, type ProfileName } from './profiles.js';
import { compareVerdict, describeExpected, parseStunOutput, type StunVerdict } from './stun.js';
import { OUTSIDE_IP6, SERVER_IP6, SERVER_IP6_ALT, buildBaseIpv6, buildSiteIpv6, ipv6NamespaceSysctls, siteIpv6Plan, type Ipv6Mode, type Ipv6Ops } from './ipv6.js';
import { checkLabName, writeNetnsHosts, type LabName } from './netns-etc.js';
import { kernelLabSkipReason } from './prereq.js';
import { startPortmapRouter, type PortmapChoice, type PortmapRouter } from './portmap-site.js';

export type NodeKind = 'core' | 'server' | 'outside' | 'router' | 'carrier' | 'host';

/** One namespace of the lab. */
export interface LabNode {
  readonly kind: NodeKind;
  /** Network namespace name. */
  readonly ns: string;
  /** The node's main address (the IPv6 one on a v6-only host). */
  readonly ip: string;
  /** Its global IPv6 address, when the lab and its site have IPv6. */
  readonly ip6?: string;
}

export interface ServerNode extends LabNode {
  /** The second address stund needs. */
  readonly ip2: string;
  /** The server's second IPv6 address (with `ip6`), when the lab has IPv6. */
  readonly ip6Alt?: string;
}

export interface NatSite {
  readonly index: number;
  readonly profile: NatProfile;
  readonly router: LabNode;
  /** The carrier NAT in front of the home router (double NAT only). */
  readonly carrier?: LabNode;
  /** The address the outside world sees. */
  readonly publicIp: string;
  readonly hosts: readonly LabNode[];
  /** Namespaces of this site, host first, so they can be removed. */
  readonly namespaces: readonly string[];
  /** The classifier's verdict, once verified. */
  verdict?: StunVerdict;
  /** IPv6 on this site (see ipv6.ts). */
  readonly ipv6: Ipv6Mode;
  /** The global /64 routed to the LAN (no NAT66), when ipv6 is not 'off'. */
  readonly prefix6?: string;
  /** The router's port-mapping daemon (profiles with `portMapping`). */
  readonly portmap?: PortmapRouter;
}

export interface LabOptions {
  /** Namespace name prefix, default "bnk". */
  prefix?: string | undefined;
  /** Check stund from the outside host (must say "Open") before returning. Default true. */
  selfCheck?: boolean;
  /** Progress messages (one per step), e.g. for a test's diagnostic output. */
  log?: ((msg: string) => void) | undefined;
  /** Give core, server and outside host IPv6 (ipv6.ts), so sites may ask for it. Default false. */
  ipv6?: boolean;
}

export interface AddSiteOptions {
  /**
   * Classify with `stun` and refuse (NatClassificationError) on a mismatch.
   * Default true, except for v6-only sites (stun is IPv4 only: not classified).
   */
  verify?: boolean;
  /**
   * IPv6 for this site (needs `Lab.create({ ipv6: true })`): 'dual' or
   * 'v6-only' route the site's global /64 behind an RFC 6092 firewall, next to
   * the profile's IPv4 NAT. Default 'off'. The profile governs IPv4 only, so
   * `addSite('udp-blocked', { ipv6: 'dual' })` is "IPv4 UDP blocked, IPv6 open".
   */
  ipv6?: Ipv6Mode;
  /**
   * Port-mapping profiles only (`upnp-router`): which protocols the router
   * answers, all three (the default) or one alone (portmap-site.ts).
   */
  portmap?: PortmapChoice;
}

/** The NAT built for a profile does not classify as the profile claims: the lab refuses it. */
export class NatClassificationError extends Error {
  constructor(
    readonly profile: ProfileName,
    readonly verdicts: readonly StunVerdict[],
    readonly differences: readonly string[],
  ) {
    const got = verdicts.map((v) => `"${v.primary}"`).join(', then ');
    super(
      `NAT profile ${profile} does not classify as claimed: stun expected "${describeExpected(getProfile(profile).expect)}" ` +
        `but said ${got} (${differences.join('; ')}); refusing to run a scenario on it`,
    );
    this.name = 'NatClassificationError';
  }
}

export class LabClosedError extends Error {
  constructor(runId: string) {
    super(`netsim lab ${runId} is closed (or closing)`);
    this.name = 'LabClosedError';
  }
}

export interface SpawnOptions {
  /** Cap on captured stdout and stderr each (tail kept). Default 1 MiB. */
  maxOutput?: number;
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string>;
}

/** A process started inside a lab namespace; killed on `lab.close()`. */
export class LabProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly out: OutputBuffer;
  private readonly err: OutputBuffer;
  private done = false;
  private waiters = new Set<() => void>();

  constructor(
    readonly node: LabNode,
    readonly cmd: string,
    readonly args: readonly string[],
    private readonly child: ChildProcess,
    maxOutput: number,
  ) {
    this.pid = child.pid;
    this.out = new OutputBuffer(maxOutput);
    this.err = new OutputBuffer(maxOutput);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      this.out.push(c);
      for (const w of this.waiters) w();
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.err.push(c);
      for (const w of this.waiters) w();
    });
    child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      child.on('error', () => {
        this.done = true;
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => {
        this.done = true;
        for (const w of this.waiters) w();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  stdout(): string {
    return this.out.toString();
  }

  stderr(): string {
    return this.err.toString();
  }

  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  /** Waits until stdout matches `re` (bounded); rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs = 5000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(this.out.toString());
        if (m) finish(() => resolve(m));
        else if (this.done) finish(() => reject(new Error(`${this.cmd} exited before printing ${re}; stderr: ${this.err.toString().slice(-300)}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.cmd} did not print ${re} within ${timeoutMs} ms; stderr: ${this.err.toString().slice(-300)}`))),
        timeoutMs,
      );
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited (bounded). */
  async stop(graceMs = 1000): Promise<void> {
    if (this.done) return;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!exited) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }

  killSync(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }
}

const SERVER_IP = '198.51.100.2';
const SERVER_IP2 = '198.51.100.3';
const OUTSIDE_IP = '192.0.2.2';
/** One /29 of 203.0.113.0/24 per site (k = 1…31): enough for a 10×10 matrix with two sites per profile. */
const MAX_SITES = 31;
/**
 * The public side of a port-mapping site (one /29 per site, like
 * 203.0.113.8k/29): 11.0.0.0/8 is not reserved, so miniupnpd forwards on it.
 * It exists only inside the lab's namespaces.
 */
const UNRESERVED_PUBLIC = '11.0.0';
const STUN_PORT = 3478;
const STUN_ALT_PORT = 3479;

/** Tokens passed to `ip -batch`; ours only, but checked so no line can be smuggled in. */
const SAFE_TOKEN = /^[A-Za-z0-9._/:-]+$/;

export class Lab {
  readonly runId: string;
  readonly prefix: string;
  readonly table: string;
  /** Every namespace this lab made (recorded before it is created). */
  private readonly made = new Set<string>();
  private readonly procs = new Set<LabProcess>();
  private readonly inflight = new Set<ChildProcess>();
  private readonly tracker = { add: (c: ChildProcess) => this.inflight.add(c), delete: (c: ChildProcess) => this.inflight.delete(c) };
  private readonly log: (msg: string) => void;
  private closing: Promise<string[]> | undefined;
  private siteCount = 0;
  private readonly sites = new Set<NatSite>();
  private readonly ipv6: boolean;
  /** Names the lab's hosts resolve (/etc/netns/NS/hosts), see addName(). */
  private readonly names: LabName[] = [];

  core!: LabNode;
  server!: ServerNode;
  /** A host with a public address and no NAT: the "third party" for unsolicited packets. */
  outside!: LabNode;
  stund!: LabProcess;

  private constructor(opts: LabOptions) {
    this.prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
    this.runId = newRunId();
    this.table = tableName(this.runId);
    this.log = opts.log ?? (() => {});
    this.ipv6 = opts.ipv6 ?? false;
  }

  /** Builds core, server (with stund) and the outside host. Closes itself if that fails. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(opts);
    registerLab(lab);
    try {
      await lab.buildBase(opts.selfCheck ?? true);
      return lab;
    } catch (e) {
      await lab.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Namespaces this lab made that still exist (or may). */
  namespaces(): string[] {
    return [...this.made];
  }

  // ---- building -------------------------------------------------------------

  private ns(role: string): string {
    return nsName(this.prefix, this.runId, role);
  }

  private ifn(short: string): string {
    return ifName(short, this.runId);
  }

  private async cmd(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (this.closing) throw new LabClosedError(this.runId);
    return run(cmd, args, opts, this.tracker);
  }

  private async addNamespace(role: string, router: boolean, ipv6 = false): Promise<string> {
    const ns = this.ns(role);
    if (this.closing) throw new LabClosedError(this.runId);
    this.made.add(ns); // before creating: an interrupted `ip netns add` is still cleaned up
    this.log(`netns add ${ns}`);
    await this.cmd('ip', ['netns', 'add', ns]);
    await this.ipBatch(ns, [['link', 'set', 'lo', 'up']]);
    await this.sysctl(ns, {
      'net.ipv4.ip_forward': router ? '1' : '0',
      ...(ipv6
        ? ipv6NamespaceSysctls(router) // before any link exists: accept_dad=0 (the DAD trap, ipv6.ts)
        : { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' }),
    });
    if (this.names.length > 0) writeNetnsHosts(ns, this.names);
    return ns;
  }

  private async ipBatch(ns: string, lines: readonly (readonly string[])[]): Promise<void> {
    for (const l of lines) for (const t of l) if (!SAFE_TOKEN.test(t)) throw new Error(`unsafe ip argument ${JSON.stringify(t)}`);
    await this.cmd('ip', ['-n', ns, '-batch', '-'], { input: lines.map((l) => l.join(' ')).join('\n') + '\n' });
  }

  private async sysctl(ns: string, values: Readonly<Record<string, string>>, ignoreMissing = false): Promise<void> {
    const args = Object.entries(values).map(([k, v]) => `${k}=${v}`);
    await this.cmd('ip', ['netns', 'exec', ns, 'sysctl', '-q', ...(ignoreMissing ? ['-e'] : []), '-w', ...args]);
  }

  private async nft(ns: string, ruleset: string): Promise<void> {
    await this.cmd('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: ruleset });
  }

  /** A veth pair with one end in each namespace (created there directly, never in the host namespace). */
  private async veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    await this.cmd('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  }

  private async buildBase(selfCheck: boolean): Promise<void> {
    const t0 = Date.now();
    const v6 = this.ipv6;
    const core = await this.addNamespace('core', true, v6);
    this.core = { kind: 'core', ns: core, ip: '198.51.100.1' };
    // The core's filter table: per-site loss rules are added to its forward chain.
    await this.nft(core, [
      `table inet ${this.table} {`,
      `  chain forward {`,
      `    type filter hook forward priority filter; policy accept;`,
      `  }`,
      `}`,
      '',
    ].join('\n'));

    const server = await this.addNamespace('server', false, v6);
    await this.veth(core, this.ifn('c0'), server, this.ifn('up'));
    await this.ipBatch(core, [
      ['addr', 'add', '198.51.100.1/24', 'dev', this.ifn('c0')],
      ['link', 'set', this.ifn('c0'), 'up'],
    ]);
    await this.ipBatch(server, [
      ['addr', 'add', `${SERVER_IP}/24`, 'dev', this.ifn('up')],
      ['addr', 'add', `${SERVER_IP2}/24`, 'dev', this.ifn('up')],
      ['link', 'set', this.ifn('up'), 'up'],
      ['route', 'add', 'default', 'via', '198.51.100.1'],
    ]);
    this.server = { kind: 'server', ns: server, ip: SERVER_IP, ip2: SERVER_IP2, ...(v6 ? { ip6: SERVER_IP6, ip6Alt: SERVER_IP6_ALT } : {}) };

    const outside = await this.addNamespace('outside', false, v6);
    await this.veth(core, this.ifn('cx'), outside, this.ifn('up'));
    await this.ipBatch(core, [
      ['addr', 'add', '192.0.2.1/24', 'dev', this.ifn('cx')],
      ['link', 'set', this.ifn('cx'), 'up'],
    ]);
    await this.ipBatch(outside, [
      ['addr', 'add', `${OUTSIDE_IP}/24`, 'dev', this.ifn('up')],
      ['link', 'set', this.ifn('up'), 'up'],
      ['route', 'add', 'default', 'via', '192.0.2.1'],
    ]);
    this.outside = { kind: 'outside', ns: outside, ip: OUTSIDE_IP, ...(v6 ? { ip6: OUTSIDE_IP6 } : {}) };
    if (v6) {
      await buildBaseIpv6(this.ipv6Ops(), {
        core, server, outside, coreServerIf: this.ifn('c0'), coreOutsideIf: this.ifn('cx'), upIf: this.ifn('up'),
      });
    }

    this.stund = this.spawn(this.server, 'stund', ['-h', SERVER_IP, '-a', SERVER_IP2]);
    await this.waitUdpListening(this.server, [
      `${SERVER_IP}:${STUN_PORT}`,
      `${SERVER_IP}:${STUN_ALT_PORT}`,
      `${SERVER_IP2}:${STUN_PORT}`,
      `${SERVER_IP2}:${STUN_ALT_PORT}`,
    ], this.stund);
    this.log(`base built in ${Date.now() - t0} ms`);
    if (selfCheck) {
      const v = await this.classify(this.outside);
      if (v.nat !== 'open') {
        throw new Error(`stund self-check failed: stun from the outside host (no NAT) should say "Open" but said "${v.primary}"`);
      }
    }
  }

  /** Polls `ss` (bounded) until every ip:port is a bound UDP socket in the node's namespace. */
  private async waitUdpListening(node: LabNode, endpoints: string[], proc?: LabProcess, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (proc && !proc.running) throw new Error(`${proc.cmd} exited early: ${proc.stderr().slice(-300) || proc.stdout().slice(-300)}`);
      last = (await this.cmd('ip', ['netns', 'exec', node.ns, 'ss', '-H', '-u', '-l', '-n'])).stdout;
      if (endpoints.every((e) => last.includes(e))) return;
      await sleep(30);
    }
    throw new Error(`UDP sockets ${endpoints.join(', ')} not bound in ${node.ns} within ${timeoutMs} ms; ss says: ${last.trim()}`);
  }

  /**
   * Builds a NAT site for a profile: router(s), LAN bridge, hosts, ruleset,
   * sysctls, core loss. Unless `verify: false`, classifies host 0 with `stun`
   * and, if the NAT does not classify as the profile claims, removes the site
   * and throws NatClassificationError.
   */
  async addSite(profileOrName: NatProfile | ProfileName, opts: AddSiteOptions = {}): Promise<NatSite> {
    const profile = typeof profileOrName === 'string' ? getProfile(profileOrName) : profileOrName;
    const mode: Ipv6Mode = opts.ipv6 ?? 'off';
    const v6 = mode !== 'off';
    if (v6 && !this.ipv6) throw new Error(`a site with ipv6 '${mode}' needs a lab made with Lab.create({ ipv6: true })`);
    if (v6 && profile.carrier) throw new Error(`IPv6 behind a carrier NAT (${profile.name}) is not built; use ipv6 'off'`);
    const mapping = profile.portMapping === true;
    if (opts.portmap !== undefined && !mapping) throw new Error(`portmap '${opts.portmap}' needs a port-mapping profile (upnp-router), not ${profile.name}`);
    if (mapping && (v6 || profile.carrier)) throw new Error(`a port-mapping router (${profile.name}) with IPv6 or behind a carrier NAT is not built`);
    const missing = mapping ? kernelLabSkipReason({ portmapRouter: true }) : undefined;
    if (missing !== undefined) throw new Error(`a ${profile.name} site cannot be built: ${missing}`);
    const verify = opts.verify ?? mode !== 'v6-only';
    if (verify && mode === 'v6-only') throw new Error('a v6-only site cannot be classified: stun speaks IPv4 only (pass verify: false)');
    if (this.siteCount >= MAX_SITES) throw new Error(`a lab holds at most ${MAX_SITES} NAT sites`);
    const k = ++this.siteCount;
    const t0 = Date.now();
    const base = 8 * k;
    const publicNet = mapping ? UNRESERVED_PUBLIC : '203.0.113';
    const coreIp = `${publicNet}.${base + 1}`;
    const publicIp = `${publicNet}.${base + 2}`;
    const coreIf = this.ifn(`c${k}`);
    const wan = this.ifn('wan');
    const lan = this.ifn('lan');
    const namespaces: string[] = [];
    const site: { -readonly [K in keyof NatSite]: NatSite[K] } = {
      index: k,
      profile,
      router: undefined as unknown as LabNode,
      publicIp,
      hosts: [],
      namespaces,
      ipv6: mode,
    };
    this.sites.add(site);

    // The router facing the core: the carrier NAT for double NAT, else the home NAT.
    let homeWanIp = publicIp;
    let homeGateway = coreIp;
    const home = this.ns(`nat${k}`);
    if (profile.carrier) {
      const cgn = await this.addNamespace(`cgn${k}`, true);
      namespaces.push(cgn);
      await this.veth(this.core.ns, coreIf, cgn, wan);
      const cgnIf = this.ifn('cgn');
      await this.ipBatch(cgn, [
        ['addr', 'add', `${publicIp}/29`, 'dev', wan],
        ['link', 'set', wan, 'up'],
        ['route', 'add', 'default', 'via', coreIp],
      ]);
      homeWanIp = `100.64.${k}.2`;
      homeGateway = `100.64.${k}.1`;
      await this.addNamespace(`nat${k}`, true);
      namespaces.push(home);
      await this.veth(cgn, cgnIf, home, wan);
      await this.ipBatch(cgn, [
        ['addr', 'add', `100.64.${k}.1/24`, 'dev', cgnIf],
        ['link', 'set', cgnIf, 'up'],
      ]);
      await this.nft(cgn, profile.carrier.ruleset({ table: this.table, wan, lan: cgnIf, publicIp, inside: [homeWanIp], insideCidr: `100.64.${k}.0/24` }));
      site.carrier = { kind: 'carrier', ns: cgn, ip: publicIp };
    } else {
      await this.addNamespace(`nat${k}`, true, v6);
      namespaces.push(home);
      await this.veth(this.core.ns, coreIf, home, wan);
    }
    await this.ipBatch(this.core.ns, [
      ['addr', 'add', `${coreIp}/29`, 'dev', coreIf],
      ['link', 'set', coreIf, 'up'],
    ]);
    await this.ipBatch(home, [
      ['addr', 'add', `${homeWanIp}/${profile.carrier ? 24 : 29}`, 'dev', wan],
      ['link', 'set', wan, 'up'],
      ['route', 'add', 'default', 'via', homeGateway],
      ['link', 'add', lan, 'type', 'bridge'],
      ['addr', 'add', `10.${k}.0.1/24`, 'dev', lan],
      ['link', 'set', lan, 'up'],
    ]);
    // If br_netfilter is loaded (Docker loads it), bridged frames would meet our NAT rules at
    // layer 2 and a DNAT back into the LAN would be bridged, not routed (no hairpin to the
    // sender's own port, no SNAT). This LAN bridge is a plain switch: keep netfilter off it.
    await this.sysctl(home, { 'net.bridge.bridge-nf-call-iptables': '0', 'net.bridge.bridge-nf-call-arptables': '0' }, true);
    site.router = { kind: 'router', ns: home, ip: `10.${k}.0.1` };

    const hosts: LabNode[] = [];
    const hostIfs: { ns: string; eth: string }[] = [];
    for (let j = 0; j < profile.hosts; j++) {
      const hns = await this.addNamespace(`nat${k}h${j}`, false, v6);
      namespaces.unshift(hns);
      const port = this.ifn(`p${j}`);
      const eth = this.ifn('eth');
      await this.veth(home, port, hns, eth);
      await this.ipBatch(home, [['link', 'set', port, 'master', lan, 'up']]);
      const ip4 = `10.${k}.0.${2 + j}`;
      if (mode === 'v6-only') {
        await this.ipBatch(hns, [['link', 'set', eth, 'up']]); // no IPv4 address, no IPv4 route
      } else {
        await this.ipBatch(hns, [
          ['addr', 'add', `${ip4}/24`, 'dev', eth],
          ['link', 'set', eth, 'up'],
          ['route', 'add', 'default', 'via', `10.${k}.0.1`],
        ]);
      }
      const ip6 = v6 ? siteIpv6Plan(k).hostIp(j) : undefined;
      hosts.push({ kind: 'host', ns: hns, ip: mode === 'v6-only' && ip6 ? ip6 : ip4, ...(ip6 ? { ip6 } : {}) });
      hostIfs.push({ ns: hns, eth });
    }
    site.hosts = hosts;

    const inside = mode === 'v6-only' ? [] : hosts.map((h) => h.ip);
    const ctx: NatRulesContext = { table: this.table, wan, lan, publicIp: homeWanIp, inside, insideCidr: `10.${k}.0.0/24` };
    await this.nft(home, profile.ruleset(ctx));
    if (profile.sysctls) await this.sysctl(home, profile.sysctls);
    if (mapping) {
      try {
        site.portmap = await startPortmapRouter({
          ns: home,
          table: this.table,
          wan,
          lan,
          insideCidr: ctx.insideCidr,
          choice: opts.portmap ?? 'all',
          spawn: (cmd, args) => {
            const p = this.spawn(site.router, cmd, args);
            return {
              output: () => p.stdout() + p.stderr(),
              get running() {
                return p.running;
              },
              kill: (signal) => (signal === 'SIGKILL' ? p.killSync() : void p.stop(5000)),
              exited: p.exited,
            };
          },
          nft: (ruleset) => this.nft(home, ruleset),
        });
      } catch (e) {
        await this.removeSite(site).catch(() => {});
        throw e;
      }
    }
    if (v6) {
      await this.sysctl(home, { 'net.bridge.bridge-nf-call-ip6tables': '0' }, true);
      const r = await buildSiteIpv6(this.ipv6Ops(), { k, core: this.core.ns, coreIf, router: home, wan, lan, hosts: hostIfs, table: this.table });
      site.prefix6 = r.prefix;
    }
    if (profile.coreLossPercent !== undefined) {
      const pct = Math.round(profile.coreLossPercent);
      if (!(pct >= 0 && pct <= 100)) throw new Error(`coreLossPercent out of range: ${profile.coreLossPercent}`);
      for (const dir of ['iifname', 'oifname']) {
        await this.cmd('ip', [
          'netns', 'exec', this.core.ns, 'nft', 'add', 'rule', 'inet', this.table, 'forward',
          dir, coreIf, 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', '<', String(pct), 'drop',
        ]);
      }
    }
    this.log(`site ${k} (${profile.name}) built in ${Date.now() - t0} ms`);

    if (verify) {
      try {
        await this.verifySite(site);
      } catch (e) {
        await this.removeSite(site).catch(() => {});
        throw e;
      }
    }
    return site;
  }

  /** Classifies the site's first host; throws NatClassificationError unless it matches the profile's claim. */
  async verifySite(site: NatSite): Promise<StunVerdict> {
    const attempts = Math.max(1, site.profile.classifierAttempts ?? 1);
    const verdicts: StunVerdict[] = [];
    let diffs: string[] = [];
    for (let i = 0; i < attempts; i++) {
      const v = await this.classify(at(site.hosts, 0));
      verdicts.push(v);
      diffs = compareVerdict(site.profile.expect, v);
      this.log(`site ${site.index} (${site.profile.name}) stun: ${v.primary}${diffs.length ? ' [mismatch]' : ''}`);
      if (diffs.length === 0) {
        site.verdict = v;
        return v;
      }
    }
    throw new NatClassificationError(site.profile.name, verdicts, diffs);
  }

  /** Runs Debian's `stun` client in the node's namespace against the lab's stund. */
  async classify(node: LabNode, timeoutMs = 20_000): Promise<StunVerdict> {
    // stun exits with its "Return value" as status: non-zero is normal.
    const r = await this.cmd('ip', ['netns', 'exec', node.ns, 'stun', this.server.ip], { timeoutMs, allowFail: true });
    if (r.timedOut) throw new CommandError('stun', [this.server.ip], r);
    return parseStunOutput(r.stdout + '\n' + r.stderr);
  }

  /** Deletes a site's namespaces (killing anything running in them). */
  async removeSite(site: NatSite): Promise<void> {
    for (const p of [...this.procs]) {
      if (site.namespaces.includes(p.node.ns)) await p.stop(500);
    }
    for (const ns of site.namespaces) {
      if (await destroyNamespace(ns)) this.made.delete(ns);
    }
    this.sites.delete(site);
  }

  private ipv6Ops(): Ipv6Ops {
    return {
      ipBatch: (ns, lines) => this.ipBatch(ns, lines),
      nft: (ns, ruleset) => this.nft(ns, ruleset),
      exec: (ns, cmd, args) => this.cmd('ip', ['netns', 'exec', ns, cmd, ...args]),
    };
  }

  // ---- names ----------------------------------------------------------------

  /**
   * Makes `name` resolve inside every namespace of the lab (now and later) to
   * `addresses`, by default the server's IPv4 and (with IPv6) IPv6 address:
   * a hosts file in /etc/netns/NS/, which `ip netns exec` mounts over
   * /etc/hosts. Removed with the namespaces; the real /etc/hosts is untouched.
   */
  addName(name: string, addresses?: readonly string[]): LabName {
    if (this.closing) throw new LabClosedError(this.runId);
    const addrs = addresses ?? [this.server.ip, ...(this.server.ip6 ? [this.server.ip6] : [])];
    const entry = checkLabName({ name, addresses: [...addrs] });
    this.names.push(entry);
    for (const ns of this.made) writeNetnsHosts(ns, this.names);
    return entry;
  }

  // ---- running things inside ----------------------------------------------

  /** Runs a command in the node's namespace to completion (bounded, default 10 s). */
  exec(node: LabNode, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.cmd('ip', ['netns', 'exec', node.ns, cmd, ...args], opts);
  }

  /**
   * Starts `cmd args…` in the node's namespace (`ip netns exec NS cmd args…`,
   * which execs, so the handle's pid is the command's). Output is captured;
   * the process is killed on `close()`.
   */
  spawn(node: LabNode, cmd: string, args: readonly string[], opts: SpawnOptions = {}): LabProcess {
    if (this.closing) throw new LabClosedError(this.runId);
    const child = spawn('ip', ['netns', 'exec', node.ns, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    const p = new LabProcess(node, cmd, args, child, opts.maxOutput ?? 1 << 20);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Processes started with spawn() that are still running. */
  processes(): LabProcess[] {
    return [...this.procs].filter((p) => p.running);
  }

  // ---- teardown -------------------------------------------------------------

  /**
   * Kills every process the lab started, waits for commands in flight (bounded),
   * deletes every namespace with this run id. Idempotent. Resolves to the names
   * of namespaces that could not be deleted (empty when all is well).
   */
  close(): Promise<string[]> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<string[]> {
    this.log(`closing lab ${this.runId}`);
    await Promise.all([...this.procs].map((p) => p.stop(500)));
    // Commands in flight (an `ip netns add` may be half way): let them finish, bounded.
    const deadline = Date.now() + 5000;
    while (this.inflight.size > 0 && Date.now() < deadline) await sleep(10);
    for (const c of this.inflight) c.kill('SIGKILL');
    while (this.inflight.size > 0 && Date.now() < deadline + 2000) await sleep(10);

    const names = new Set(this.made);
    for (const n of await listNamespaces().catch(() => [] as string[])) {
      if (parseNsName(this.prefix, n)?.runId === this.runId) names.add(n);
    }
    // Hosts first, core last, so nothing is routed into a half-deleted topology.
    const ordered = [...names].sort((a, b) => rank(b) - rank(a));
    for (const ns of ordered) await destroyNamespace(ns).catch(() => false);
    const left = (await listNamespaces().catch(() => [] as string[])).filter(
      (n) => parseNsName(this.prefix, n)?.runId === this.runId,
    );
    this.made.clear();
    for (const n of left) this.made.add(n);
    unregisterLab(this);
    this.log(left.length ? `lab ${this.runId} left ${left.join(', ')}` : `lab ${this.runId} closed`);
    return left;
  }

  /** Synchronous best-effort teardown for process 'exit'. */
  closeSync(): void {
    this.closing ??= Promise.resolve([]);
    const pids: number[] = [];
    for (const p of this.procs) if (p.running && p.pid) pids.push(p.pid);
    for (const c of this.inflight) if (c.pid && c.exitCode === null) pids.push(c.pid);
    killAllSync(pids);
    const names = new Set(this.made);
    try {
      for (const n of listNamespacesSync()) if (parseNsName(this.prefix, n)?.runId === this.runId) names.add(n);
    } catch {
      /* ip missing or failing: nothing more we can do */
    }
    for (const ns of [...names].sort((a, b) => rank(b) - rank(a))) destroyNamespaceSync(ns);
    this.made.clear();
    unregisterLab(this);
  }
}

function rank(ns: string): number {
  const role = ns.slice(ns.lastIndexOf('-') + 1);
  if (role === 'core') return 0;
  if (/^nat\d+h\d+$/.test(role)) return 3;
  if (/^nat\d+$/.test(role)) return 2;
  return 1;
}
