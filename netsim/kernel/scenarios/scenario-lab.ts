/**
 * The lab every scenario runs in, built once:
 *
 *   server ns      burrow rendezvous --listen 198.51.100.2:7000      (restartable)
 *   outside ns     the attacker (no NAT, 192.0.2.2)
 *   site A h0      stream target 127.0.0.1:9000, burrow provide     port-restricted-cone
 *   site B h0      burrow visit + stream clients                    port-restricted-cone
 *   site S h0      burrow visit + stream clients                    short-lifetime (UDP mappings live 5 s)
 *   site F h0      burrow visit + stream clients                    full-cone (anyone reaches a UDP mapping)
 *
 * Each scenario starts its own provider/visitor pair (a fresh service name)
 * with `--mode <mode>`, so one lab serves stcp today and xtcp later.
 */
import { at } from '../../../src/util/at.js';
import { randomBytes } from 'node:crypto';
import { Lab, type LabNode, type LabProcess, type NatSite } from '../lab.js';
import type { ProfileName } from '../profiles.js';
import { BURROW_ENTRY, STREAM_ENTRY, isDirect, spawnNode, waitEvent, type LogEvent, type ScenarioMode } from './procs.js';

export const RV_PORT = 7000;
export const TARGET_PORT = 9000;

export interface Pair {
  service: string;
  provider: LabProcess;
  visitor: LabProcess;
  visitorHost: LabNode;
  visitPort: number;
  /** Provider start → visitor session up, ms. */
  setupMs: number;
  /** The visitor's path once set up (xtcp: "direct" when punched within the wait). */
  path: string;
  stop(): Promise<void>;
}

export interface ScenarioLabOptions {
  mode: ScenarioMode;
  log?: (m: string) => void;
}

export class ScenarioLab {
  rendezvous!: LabProcess;
  target!: LabProcess;
  private pairs = 0;
  readonly token = randomBytes(16).toString('hex');

  private constructor(
    readonly lab: Lab,
    readonly mode: ScenarioMode,
    readonly siteA: NatSite,
    readonly siteB: NatSite,
    readonly siteShort: NatSite,
    readonly siteFull: NatSite,
    private readonly log: (m: string) => void,
  ) {}

  static async create(o: ScenarioLabOptions): Promise<ScenarioLab> {
    const log = o.log ?? (() => {});
    const lab = await Lab.create({ log: (m) => log(`lab: ${m}`) });
    try {
      const want: ProfileName[] = ['port-restricted-cone', 'port-restricted-cone', 'short-lifetime', 'full-cone'];
      const [a, b, s, f] = await Promise.all(want.map((p) => lab.addSite(p)));
      const sl = new ScenarioLab(lab, o.mode, a!, b!, s!, f!, log);
      await sl.startRendezvous();
      sl.target = spawnNode(lab, at(a!.hosts, 0), [STREAM_ENTRY, 'target', '127.0.0.1', String(TARGET_PORT)]);
      await sl.target.waitFor(/"ready":true/, 15_000);
      return sl;
    } catch (e) {
      await lab.close();
      throw e;
    }
  }

  get serverAddress(): string {
    return `${this.lab.server.ip}:${RV_PORT}`;
  }

  /** Starts (or restarts) the rendezvous and waits until it listens. */
  async startRendezvous(): Promise<LabProcess> {
    const rv = spawnNode(this.lab, this.lab.server, [
      BURROW_ENTRY, 'rendezvous', '--listen', this.serverAddress, '--token', this.token, '--log-format', 'json',
    ]);
    await waitEvent(rv, 'rendezvous', 'listening', 15_000);
    this.rendezvous = rv;
    return rv;
  }

  /**
   * Starts a provider on site A and a visitor on `visitorSite`, and waits for
   * the session (and, in xtcp, up to `directWaitMs` for the direct path).
   */
  async startPair(visitorSite: NatSite, o: { directWaitMs?: number } = {}): Promise<Pair> {
    const i = this.pairs++;
    const service = `sc${i}-${this.lab.runId}`.slice(0, 63);
    const secret = randomBytes(16).toString('hex');
    const peer = ['--server', this.serverAddress, '--token', this.token, '--name', service, '--secret', secret, '--mode', this.mode, '--log-format', 'json'];
    const t0 = Date.now();
    const provider = spawnNode(this.lab, at(this.siteA.hosts, 0), [BURROW_ENTRY, 'provide', ...peer, '--to', `127.0.0.1:${TARGET_PORT}`]);
    const visitPort = 20_000 + i;
    const visitorHost = at(visitorSite.hosts, 0);
    let visitor: LabProcess | undefined;
    try {
      await waitEvent(provider, 'provider', 'registered', 20_000);
      visitor = spawnNode(this.lab, visitorHost, [BURROW_ENTRY, 'visit', ...peer, '--listen', `127.0.0.1:${visitPort}`]);
      const up = await waitEvent(visitor, 'visitor', 'session-up', 30_000);
      let path = typeof up.path === 'string' ? up.path : 'unknown';
      if (this.mode === 'xtcp' && !isDirect(path)) {
        const isPunched = (e: LogEvent): boolean => e.event === 'path' && typeof e.path === 'string' && isDirect(e.path);
        const direct = await waitEvent(visitor, 'visitor', isPunched, o.directWaitMs ?? 15_000).catch(() => null);
        if (direct && typeof direct.path === 'string') path = direct.path;
      }
      const setupMs = Date.now() - t0;
      this.log(`pair ${service}: session up in ${setupMs} ms, path ${path}`);
      const v = visitor;
      return {
        service, provider, visitor: v, visitorHost, visitPort, setupMs, path,
        stop: async () => {
          await Promise.all([provider.stop(1000), v.stop(1000)]);
        },
      };
    } catch (e) {
      await Promise.all([provider.stop(500), visitor?.stop(500)]);
      throw e;
    }
  }

  close(): Promise<string[]> {
    return this.lab.close();
  }
}
