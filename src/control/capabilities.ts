/**
 * What a rendezvous asks of its peers beyond the base protocol, carried in
 * the welcome's peerId after the id itself: "p12 report=5000".
 *
 * Why there: both ends refuse any message or field they do not know (and
 * close the connection), so a new message may only be sent to a side known
 * to take it. Older peers log the peerId whole and never read it; a peer of
 * this version reads the words after the first space, and ignores those it
 * does not know. So a peer sends 'report' only to a rendezvous that asked,
 * and an old rendezvous (which would refuse it) never asks.
 */

/** The fastest report rate a rendezvous may ask for; a faster ask is raised to it. */
export const MIN_REPORT_EVERY_MS = 1000;
export const MAX_REPORT_EVERY_MS = 600_000;

export interface RendezvousCapabilities {
  /** Send session reports this often (and on a path change); null = do not send any. */
  reportEveryMs: number | null;
}

/** The peerId a welcome carries: the id, then the capabilities asked for. */
export function peerIdWithCapabilities(peerId: string, caps: RendezvousCapabilities): string {
  return caps.reportEveryMs === null ? peerId : `${peerId} report=${Math.round(caps.reportEveryMs)}`;
}

/** Reads a welcome's peerId: the id, and what the rendezvous asks for (nothing from an older one). */
export function parseCapabilities(welcomePeerId: string): { peerId: string; caps: RendezvousCapabilities } {
  const [peerId = '', ...words] = welcomePeerId.split(' ');
  let reportEveryMs: number | null = null;
  for (const w of words) {
    const m = /^report=(\d{1,7})$/.exec(w);
    if (m?.[1] === undefined) continue;
    reportEveryMs = Math.min(MAX_REPORT_EVERY_MS, Math.max(MIN_REPORT_EVERY_MS, Number(m[1])));
  }
  return { peerId, caps: { reportEveryMs } };
}
