/**
 * The IPv6 section's verdict and words, pure: what the IPv6 probe saw in,
 * an Ipv6Report out (ipv6-probe.ts does the I/O).
 */
import { formatEndpoint, sameAddress } from '../net/endpoint.js';
import type { UdpEndpoint } from '../net/udp-socket.js';
import type { Ipv6Selection } from './ipv6-addresses.js';
import type { Ipv6Report } from './report.js';

export interface Ipv6Observations {
  selection: Ipv6Selection;
  /** The server's IPv6 endpoint; null when there is none. */
  server: UdpEndpoint | null;
  /** Why there is no server address (e.g. "rv.example.com has no AAAA record"). */
  noServerReason?: string;
  /** Where the probe was sent from; null when there was no route (or no server). */
  local: UdpEndpoint | null;
  /** What the server saw; null when it did not answer (or nothing was sent). */
  mapped: UdpEndpoint | null;
  durationMs: number;
}

export function ipv6Report(obs: Ipv6Observations): Ipv6Report {
  const sel = obs.selection;
  const addrs = {
    global: sel.global.map((a) => a.address),
    uniqueLocal: sel.uniqueLocal.map((a) => a.address),
    usable: sel.usable.map((a) => a.address),
  };
  const hostWords =
    sel.global.length > 0
      ? `This host has ${count(sel.global.length, 'global IPv6 address', 'global IPv6 addresses')}.`
      : sel.uniqueLocal.length > 0
        ? `This host has no global IPv6 address, only ${plural(sel.uniqueLocal.length, 'a unique-local one (fc00::/7), which reaches', 'unique-local ones (fc00::/7), which reach')} only the local site.`
        : 'This host has no global IPv6 address.';
  const base = { ...addrs, server: obs.server, local: obs.local, durationMs: obs.durationMs };
  if (obs.server === null) {
    const why = obs.noServerReason ?? 'the server has no IPv6 address';
    return { ...base, status: 'no-server-address', mapped: null, translated: null, summary: `${hostWords} IPv6 not tested: ${why}.` };
  }
  const to = formatEndpoint(obs.server);
  if (obs.local === null) {
    const noAddr = sel.usable.length === 0;
    return {
      ...base,
      status: noAddr ? 'no-address' : 'no-route',
      mapped: null,
      translated: null,
      summary: `${hostWords} No IPv6 route to ${to}: UDP over IPv6 is unavailable here.`,
    };
  }
  if (obs.mapped === null) {
    return {
      ...base,
      status: 'no-answer',
      mapped: null,
      translated: null,
      summary: `${hostWords} No answer from ${to} over UDP/IPv6: IPv6 is blocked on the way, or the server does not answer STUN over IPv6.`,
    };
  }
  const translated = !sameAddress(obs.mapped.address, obs.local.address);
  let seen: string;
  if (!translated) {
    seen = `the server saw this host's own address ${obs.local.address}: no address translation, so peers can send to it directly (a firewall may still want an outgoing packet first).`;
  } else if (obs.mapped.port === obs.local.port) {
    seen = `the server saw ${obs.mapped.address}, not this host's ${obs.local.address}, with the same port: the prefix is translated (NPTv6, or NAT66 that keeps ports). Peers must use the address the server saw.`;
  } else {
    seen = `the server saw ${formatEndpoint(obs.mapped)}, not this host's ${formatEndpoint(obs.local)}: NAT66 rewrites address and port, like an IPv4 NAT.`;
  }
  return { ...base, status: 'ok', mapped: obs.mapped, translated, summary: `${hostWords} UDP over IPv6 works: ${seen}` };
}

function count(n: number, one: string, many: string): string {
  return `${n === 1 ? 'one' : String(n)} ${n === 1 ? one : many}`;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
