/**
 * TTL of priming packets: one less than the hop count to the rendezvous,
 * within 2..4 — past our own NATs (a carrier NAT too), short of the peer's.
 * Unknown hop count: 2. A configured number wins (0 = no priming).
 */
export function primeTtlFor(configured: number | 'auto', hops: number | null): number {
  if (configured !== 'auto') return configured;
  return hops === null ? 2 : Math.min(4, Math.max(2, hops - 1));
}
