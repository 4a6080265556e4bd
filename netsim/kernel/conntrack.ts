/**
 * Reading and flushing a lab router's conntrack table (`conntrack -L`, `-F`
 * inside its namespace). Scenarios use it to flush mappings mid-transfer, to
 * learn a peer's public TCP/UDP ports as an attacker on the path would, and to
 * see the conntrack clash (an UNREPLIED inbound entry, an outbound flow moved
 * to another port).
 */
import { at } from '../../src/util/at.js';
import type { Lab, LabNode } from './lab.js';

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface ConntrackEntry {
  proto: 'udp' | 'tcp' | 'icmp' | string;
  /** Seconds left before the entry expires. */
  timeoutS: number;
  /** TCP state (ESTABLISHED, TIME_WAIT, …); empty for UDP. */
  state: string;
  /** The direction the first packet went. */
  orig: ConntrackTuple;
  /** What a reply looks like; for a NATed flow its dport is the public port. */
  reply: ConntrackTuple;
  unreplied: boolean;
  assured: boolean;
}

const TUPLE_KEYS = ['src', 'dst', 'sport', 'dport'] as const;

/** Parses `conntrack -L` output (one entry per line); lines it does not understand are skipped. */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 4) continue;
    const [proto, , timeout, ...rest] = words;
    const timeoutS = Number(timeout);
    if (!proto || !Number.isFinite(timeoutS)) continue;
    const tuples: Array<Partial<Record<(typeof TUPLE_KEYS)[number], string>>> = [];
    let state = '';
    let unreplied = false;
    let assured = false;
    for (const w of rest) {
      if (w === '[UNREPLIED]') unreplied = true;
      else if (w === '[ASSURED]') assured = true;
      else if (/^[A-Z_]+$/.test(w) && tuples.length === 0) state = w;
      else {
        const eq = w.indexOf('=');
        if (eq < 0) continue;
        const k = w.slice(0, eq);
        if (!(TUPLE_KEYS as readonly string[]).includes(k)) continue;
        const key = k as (typeof TUPLE_KEYS)[number];
        // A new tuple starts at each src=.
        if (key === 'src' || tuples.length === 0) tuples.push({});
        at(tuples, tuples.length - 1)[key] = w.slice(eq + 1);
      }
    }
    const [o, r] = tuples;
    const tuple = (t: (typeof tuples)[number] | undefined): ConntrackTuple | undefined =>
      t && t.src && t.dst ? { src: t.src, dst: t.dst, sport: Number(t.sport ?? 0), dport: Number(t.dport ?? 0) } : undefined;
    const orig = tuple(o);
    const reply = tuple(r);
    if (!orig || !reply) continue;
    out.push({ proto, timeoutS, state, orig, reply, unreplied, assured });
  }
  return out;
}

/** The conntrack entries of a lab node's namespace (optionally one protocol). */
export async function listConntrack(lab: Lab, node: LabNode, proto?: 'udp' | 'tcp'): Promise<ConntrackEntry[]> {
  const r = await lab.exec(node, 'conntrack', ['-L', ...(proto ? ['-p', proto] : [])], { allowFail: true });
  return parseConntrack(r.stdout);
}

/** Forgets every conntrack entry (every NAT mapping) of a lab node's namespace. */
export async function flushConntrack(lab: Lab, node: LabNode): Promise<void> {
  await lab.exec(node, 'conntrack', ['-F']);
}

export function formatEntry(e: ConntrackEntry): string {
  const t = (x: ConntrackTuple): string => `${x.src}:${x.sport} -> ${x.dst}:${x.dport}`;
  return `${e.proto}${e.state ? ' ' + e.state : ''} ${t(e.orig)}${e.unreplied ? ' [UNREPLIED]' : ''} | reply ${t(e.reply)}${e.assured ? ' [ASSURED]' : ''}`;
}
