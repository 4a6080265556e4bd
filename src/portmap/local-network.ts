/**
 * The only OS reads of the port-mapping layer: the default gateway (Linux's
 * /proc/net/route) and our IPv4 address on the interface that leads to it.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { parseDefaultRoute } from './route-table.js';

export interface GatewayInfo {
  gateway: string;
  /** Our address on the gateway's interface (PCP's client address, UPnP's internal client). */
  localAddress: string;
}

/** The default gateway and our address towards it, or null when unknown (no default route, not Linux). */
export function readDefaultGateway(): GatewayInfo | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return null;
  }
  const route = parseDefaultRoute(text);
  if (route === null) return null;
  const addrs = networkInterfaces()[route.interfaceName] ?? [];
  const v4 = addrs.find((a) => a.family === 'IPv4' && !a.internal);
  return v4 === undefined ? null : { gateway: route.gateway, localAddress: v4.address };
}

/** Our IPv4 address on the subnet that holds `gateway`, or null. */
export function localAddressToward(gateway: string): string | null {
  const gw = toNumber(gateway);
  if (gw === null) return null;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const ip = toNumber(a.address);
      const mask = toNumber(a.netmask);
      if (ip !== null && mask !== null && ((ip & mask) >>> 0) === ((gw & mask) >>> 0)) return a.address;
    }
  }
  return null;
}

function toNumber(ip: string): number | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  return m ? ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]) : null;
}
