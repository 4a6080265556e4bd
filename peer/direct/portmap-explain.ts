import type { PortMapEvent } from '../../src/portmap/index.js';

type Failed = Extract<PortMapEvent, { type: 'failed' }>;

/**
 * Refusals that a router whose own WAN address is private or shared gives:
 * miniupnpd 2.3.1 on 100.64.0.1 answers NAT-PMP with "network failure" and
 * UPnP AddPortMapping with 501 ActionFailed (only PCP names the address).
 */
const BEHIND_NAT_SIGNS = [/network failure/i, /\b501\b/, /\bNO_RESOURCES\b/, /\b0\.0\.0\.0\b/];

/**
 * The port mapper's failure, said plainly for the peer's log: what the router
 * did and, where its answers look like it, that another NAT may sit above it.
 */
export function explainPortMapFailure(e: Failed): string {
  switch (e.kind) {
    case 'behind-nat':
    case 'no-address':
      // The mapper's reason names the address and says "another NAT sits above the router".
      return e.reason;
    case 'no-service':
      return `the router offers no port mapping: ${e.reason}`;
    case 'refused': {
      const details = /^every port-mapping service failed \((.*)\)$/s.exec(e.reason)?.[1] ?? e.reason;
      const hint = BEHIND_NAT_SIGNS.some((sign) => sign.test(details)) ? ' (another NAT above it?)' : '';
      return `the router would not map: ${details}${hint}`;
    }
  }
}
