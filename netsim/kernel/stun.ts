import { at } from '../../src/util/at.js';
/**
 * The independent classifier: Debian's `stun` client (stun-client package,
 * RFC 3489, version 0.97) run behind a NAT against `stund -h IP1 -a IP2` on the
 * lab's server. This file parses its verdict and compares it with a claim.
 *
 * The client prints one line such as
 *   `Primary: Independent Mapping, Port Dependent Filter, preserves ports, no hairpin`
 * and exits with the "Return value" as its status: 0x00 open, 0x02 / 0x04 / 0x06
 * independent mapping with independent / address / port dependent filtering,
 * 0x08 dependent mapping, 0x0a firewall, 0x0c blocked, 0x0e unknown; bit 0x01 set
 * means "preserves ports", bit 0x10 set means "no hairpin".
 */

export type StunNat = 'open' | 'nat' | 'firewall' | 'blocked' | 'unknown' | 'failure';
export type StunMapping = 'independent' | 'dependent';
export type StunFiltering = 'independent' | 'address' | 'port';
export type StunPorts = 'preserved' | 'random';

export interface StunVerdict {
  nat: StunNat;
  mapping?: StunMapping;
  filtering?: StunFiltering;
  ports?: StunPorts;
  hairpin?: boolean;
  /** The text after "Primary: ", trimmed. */
  primary: string;
  returnValue?: number | undefined;
}

/** What a profile claims `stun` says. Absent fields are not checked. */
export interface ExpectedVerdict {
  nat: StunNat;
  mapping?: StunMapping;
  filtering?: StunFiltering;
  ports?: StunPorts;
  hairpin?: boolean;
}

export class StunParseError extends Error {
  constructor(readonly output: string) {
    super(`could not find a verdict in the stun client's output: ${JSON.stringify(output.slice(-400))}`);
    this.name = 'StunParseError';
  }
}

export function parseStunOutput(output: string): StunVerdict {
  const line = /^Primary:\s*(.*)$/m.exec(output);
  if (!line) throw new StunParseError(output);
  const primary = at(line, 1).trim();
  const rv = /^Return value is 0x([0-9a-f]+)/im.exec(output);
  const returnValue = rv ? parseInt(at(rv, 1), 16) : undefined;
  const v: StunVerdict = { nat: 'unknown', primary, returnValue };
  const parts = primary.split(',').map((s) => s.trim());
  const head = parts[0] ?? '';
  if (head === 'Open') v.nat = 'open';
  else if (head === 'Firewall') v.nat = 'firewall';
  else if (head.startsWith('Blocked')) v.nat = 'blocked';
  else if (head.startsWith('Some stun error')) v.nat = 'failure';
  else if (head === 'Independent Mapping') {
    v.nat = 'nat';
    v.mapping = 'independent';
    const f = parts[1] ?? '';
    if (f === 'Independent Filter') v.filtering = 'independent';
    else if (f === 'Address Dependent Filter') v.filtering = 'address';
    else if (f === 'Port Dependent Filter') v.filtering = 'port';
  } else if (head === 'Dependent Mapping') {
    v.nat = 'nat';
    v.mapping = 'dependent';
  }
  if (parts.includes('preserves ports')) v.ports = 'preserved';
  else if (parts.includes('random port')) v.ports = 'random';
  if (parts.includes('will hairpin')) v.hairpin = true;
  else if (parts.includes('no hairpin')) v.hairpin = false;
  return v;
}

/** The differences between a verdict and a claim, as readable phrases; empty when they agree. */
export function compareVerdict(expected: ExpectedVerdict, got: StunVerdict): string[] {
  const diffs: string[] = [];
  const keys = ['nat', 'mapping', 'filtering', 'ports', 'hairpin'] as const;
  for (const k of keys) {
    if (expected[k] === undefined) continue;
    if (expected[k] !== got[k]) diffs.push(`${k}: expected ${String(expected[k])}, stun says ${String(got[k])}`);
  }
  return diffs;
}

/** The line `stun` prints for a claim (for documentation and error messages). */
export function describeExpected(e: ExpectedVerdict): string {
  switch (e.nat) {
    case 'open':
      return 'Open';
    case 'blocked':
      return 'Blocked or could not reach STUN server';
    case 'firewall':
      return 'Firewall';
    case 'nat': {
      const parts: string[] = [];
      if (e.mapping === 'dependent') parts.push('Dependent Mapping');
      else {
        parts.push('Independent Mapping');
        const f = { independent: 'Independent Filter', address: 'Address Dependent Filter', port: 'Port Dependent Filter' };
        if (e.filtering) parts.push(f[e.filtering]);
      }
      if (e.ports) parts.push(e.ports === 'preserved' ? 'preserves ports' : 'random port');
      if (e.hairpin !== undefined) parts.push(e.hairpin ? 'will hairpin' : 'no hairpin');
      return parts.join(', ');
    }
    default:
      return e.nat;
  }
}
