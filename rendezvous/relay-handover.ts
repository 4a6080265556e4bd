import type { Scheduler } from '../src/clock/scheduler.js';
import type { ClientMessage, ControlConnection, ServerMessage } from '../src/control/index.js';
import { spliceRelay, type RelayLimits, type RelayResult } from './relay.js';

type Control = ControlConnection<ClientMessage, ServerMessage>;

/**
 * Turns a session's two relay-join connections into one relay link: both are
 * told relay-ok, taken off the control framing, and the bytes that came
 * behind their join frames are passed on first (they belong to the link
 * already). Returns the link's live counts; `done` runs once when it ends.
 */
export function handOverRelay(
  visitor: Control,
  provider: Control,
  connId: string,
  limits: RelayLimits,
  scheduler: Scheduler,
  done: (r: RelayResult) => void,
  /** Sees every byte forwarded (the rendezvous's tap). */
  forwarded?: (bytes: Buffer) => void,
): Readonly<RelayResult> {
  visitor.send({ type: 'relay-ok', connId });
  provider.send({ type: 'relay-ok', connId });
  const restV = visitor.detach();
  const restP = provider.detach();
  for (const [rest, to] of [[restV, provider], [restP, visitor]] as const) {
    if (rest.length === 0) continue;
    forwarded?.(rest);
    to.socket.write(rest);
  }
  return spliceRelay(visitor.socket, provider.socket, limits, done, scheduler, forwarded);
}
