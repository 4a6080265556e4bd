/**
 * The default route's gateway from Linux's /proc/net/route, parsed purely.
 * Lines after the header: Iface Destination Gateway Flags RefCnt Use Metric
 * Mask …, addresses as little-endian hex (so 0101A8C0 is 192.168.1.1).
 */
export interface DefaultRoute {
  interfaceName: string;
  gateway: string;
  metric: number;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;

function hexToIPv4(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  const n = parseInt(hex, 16);
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 24) & 0xff}`;
}

/** The up default route with the lowest metric, or null when there is none. */
export function parseDefaultRoute(text: string): DefaultRoute | null {
  let best: DefaultRoute | null = null;
  for (const line of text.split('\n').slice(1, 1000)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flagsHex, , , metricText, mask] = f;
    if (dest !== '00000000' || mask !== '00000000') continue;
    const flags = parseInt(flagsHex!, 16);
    if (!(flags & RTF_UP) || !(flags & RTF_GATEWAY)) continue;
    const gateway = hexToIPv4(gw!);
    const metric = Number(metricText);
    if (gateway === null || gateway === '0.0.0.0' || !Number.isFinite(metric)) continue;
    if (best === null || metric < best.metric) best = { interfaceName: iface!, gateway, metric };
  }
  return best;
}
