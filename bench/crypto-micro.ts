/**
 * Micro-benchmark for the sealed-packet hot path (bench/crypto-micro.ts).
 *
 *   node --import tsx bench/crypto-micro.ts [iterations per round] [rounds]
 *
 * Prints µs per seal and per open of a 1375-byte plaintext for the shipped
 * PacketSealer/PacketOpener and for the alternative ways of driving
 * node:crypto that were considered, so the choice can be re-checked on a new
 * Node version.
 */
import { at } from '../src/util/at.js';
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { AEAD_ALGORITHMS, PacketOpener, PacketSealer, aeadPreference } from '../src/crypto/index.js';

const PLAINTEXT_LENGTH = 1375;
const ITERATIONS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 10);

type Key = Buffer | KeyObject;
const OPTS = { authTagLength: 16 } as const;

function header(counter: number, out: Buffer): void {
  out[0] = 0xb1;
  out.writeUInt32BE(Math.floor(counter / 2 ** 32), 1);
  out.writeUInt32BE(counter >>> 0, 5);
}

function nonceFor(counter: number, nonce: Buffer): Buffer {
  nonce.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

/** A: one output buffer, copy update() result and tag into it. */
function sealCopyInto(key: Key, nonce: Buffer, counter: number, pt: Buffer): Buffer {
  const out = Buffer.allocUnsafe(9 + pt.length + 16);
  header(counter, out);
  const c = createCipheriv('chacha20-poly1305', key, nonceFor(counter, nonce), OPTS);
  c.setAAD(out.subarray(0, 9), { plaintextLength: pt.length });
  c.update(pt).copy(out, 9);
  c.final();
  c.getAuthTag().copy(out, 9 + pt.length);
  return out;
}

/** B: Buffer.concat of header, update(), final(), tag. */
function sealConcat(key: Key, nonce: Buffer, counter: number, pt: Buffer): Buffer {
  const h = Buffer.allocUnsafe(9);
  header(counter, h);
  const c = createCipheriv('chacha20-poly1305', key, nonceFor(counter, nonce), OPTS);
  c.setAAD(h, { plaintextLength: pt.length });
  const body = c.update(pt);
  const fin = c.final();
  return Buffer.concat([h, body, fin, c.getAuthTag()], 9 + pt.length + 16);
}

/** C: like A but with Uint8Array.set instead of Buffer.copy. */
function sealSetInto(key: Key, nonce: Buffer, counter: number, pt: Buffer): Buffer {
  const out = Buffer.allocUnsafe(9 + pt.length + 16);
  header(counter, out);
  const c = createCipheriv('chacha20-poly1305', key, nonceFor(counter, nonce), OPTS);
  c.setAAD(out.subarray(0, 9), { plaintextLength: pt.length });
  out.set(c.update(pt), 9);
  c.final();
  out.set(c.getAuthTag(), 9 + pt.length);
  return out;
}

const headerScratch = Buffer.alloc(9);
/** D: header built in a reused scratch buffer (AAD without a subarray), copied into the output. */
function sealScratchHeader(key: Key, nonce: Buffer, counter: number, pt: Buffer): Buffer {
  header(counter, headerScratch);
  const c = createCipheriv('chacha20-poly1305', key, nonceFor(counter, nonce), OPTS);
  c.setAAD(headerScratch, { plaintextLength: pt.length });
  const body = c.update(pt);
  c.final();
  const out = Buffer.allocUnsafe(9 + pt.length + 16);
  headerScratch.copy(out, 0);
  body.copy(out, 9);
  c.getAuthTag().copy(out, 9 + pt.length);
  return out;
}

/** Open A: update() output is returned as the plaintext, no copy. */
function openDirect(key: Key, nonce: Buffer, packet: Buffer): Buffer | null {
  nonce.writeUInt32BE(packet.readUInt32BE(1), 4);
  nonce.writeUInt32BE(packet.readUInt32BE(5), 8);
  const end = packet.length - 16;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, OPTS);
  d.setAAD(packet.subarray(0, 9), { plaintextLength: end - 9 });
  d.setAuthTag(packet.subarray(end));
  const pt = d.update(packet.subarray(9, end));
  try {
    d.final();
  } catch {
    return null;
  }
  return pt;
}

/** Open C: like A, but the failure path throws without a stack trace. */
function openNoStack(key: Key, nonce: Buffer, packet: Buffer): Buffer | null {
  nonce.writeUInt32BE(packet.readUInt32BE(1), 4);
  nonce.writeUInt32BE(packet.readUInt32BE(5), 8);
  const end = packet.length - 16;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, OPTS);
  d.setAAD(packet.subarray(0, 9), { plaintextLength: end - 9 });
  d.setAuthTag(packet.subarray(end));
  const pt = d.update(packet.subarray(9, end));
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    d.final();
  } catch {
    return null;
  } finally {
    Error.stackTraceLimit = limit;
  }
  return pt;
}

/** Open B: concat update() and final(). */
function openConcat(key: Key, nonce: Buffer, packet: Buffer): Buffer | null {
  nonce.writeUInt32BE(packet.readUInt32BE(1), 4);
  nonce.writeUInt32BE(packet.readUInt32BE(5), 8);
  const end = packet.length - 16;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, OPTS);
  d.setAAD(packet.subarray(0, 9), { plaintextLength: end - 9 });
  d.setAuthTag(packet.subarray(end));
  const pt = d.update(packet.subarray(9, end));
  try {
    return Buffer.concat([pt, d.final()]);
  } catch {
    return null;
  }
}

interface Case {
  name: string;
  fn: (i: number) => unknown;
  best: number;
}

/**
 * Runs the cases round-robin (so load spikes and GC hit all of them alike)
 * and keeps each one's best round: the machine is shared and noisy. Time is
 * this process's CPU time (user + system), so being descheduled doesn't count.
 */
function race(title: string, cases: Array<Omit<Case, 'best'>>, rounds = ROUNDS): Case[] {
  const all: Case[] = cases.map((c) => ({ ...c, best: Infinity }));
  for (const c of all) for (let i = 0; i < 2000; i++) c.fn(i); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const c of all) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < ITERATIONS; i++) c.fn(i);
      const t = process.cpuUsage(t0);
      const us = (t.user + t.system) / ITERATIONS;
      if (us < c.best) c.best = us;
    }
  }
  console.log(`-- ${title}`);
  for (const c of all) console.log(`${c.name.padEnd(44)} ${c.best.toFixed(2)} µs`);
  return all;
}

const rawKey = randomBytes(32);
const keyObject = createSecretKey(rawKey);
const pt = randomBytes(PLAINTEXT_LENGTH);
const nonce = Buffer.alloc(12);

console.log(`node ${process.version}, plaintext ${PLAINTEXT_LENGTH} B, best of ${ROUNDS} interleaved rounds x ${ITERATIONS}`);
const sealer = new PacketSealer(rawKey);
const seals = race('seal variants', [
  { name: 'shipped PacketSealer.seal', fn: () => sealer.seal(pt) },
  { name: 'A copy-into, key Buffer', fn: (i) => sealCopyInto(rawKey, nonce, i, pt) },
  { name: 'A copy-into, key KeyObject', fn: (i) => sealCopyInto(keyObject, nonce, i, pt) },
  { name: 'B Buffer.concat, key Buffer', fn: (i) => sealConcat(rawKey, nonce, i, pt) },
  { name: 'B Buffer.concat, key KeyObject', fn: (i) => sealConcat(keyObject, nonce, i, pt) },
  { name: 'C set-into, key Buffer', fn: (i) => sealSetInto(rawKey, nonce, i, pt) },
  { name: 'C set-into, key KeyObject', fn: (i) => sealSetInto(keyObject, nonce, i, pt) },
  { name: 'D scratch header, key Buffer', fn: (i) => sealScratchHeader(rawKey, nonce, i, pt) },
  { name: 'D scratch header, key KeyObject', fn: (i) => sealScratchHeader(keyObject, nonce, i, pt) },
]);

const packets: Buffer[] = [];
for (let i = 0; i < 1024; i++) packets.push(sealCopyInto(rawKey, nonce, i, pt));
const tampered = packets.map((p) => {
  const t = Buffer.from(p);
  t[100] = at(t, 100) ^ 1;
  return t;
});
// The shipped opener checks the replay window, so it needs fresh counters:
// one in-order stream, and a new opener each time the stream wraps.
const stream: Buffer[] = [];
const streamSealer = new PacketSealer(rawKey);
for (let i = 0; i < 8192; i++) stream.push(streamSealer.seal(pt));
let opener = new PacketOpener(rawKey);
let cursor = 0;
const rejecter = new PacketOpener(rawKey);
const opens = race('open variants', [
  {
    name: 'shipped PacketOpener.open (authenticates)',
    fn: () => {
      if (cursor === stream.length) {
        cursor = 0;
        opener = new PacketOpener(rawKey);
      }
      return opener.open(at(stream, cursor++));
    },
  },
  { name: 'shipped PacketOpener.open (auth failure)', fn: (i) => rejecter.open(at(tampered, i & 1023)) },
  { name: 'A direct update(), key Buffer', fn: (i) => openDirect(rawKey, nonce, at(packets, i & 1023)) },
  { name: 'A direct update(), key KeyObject', fn: (i) => openDirect(keyObject, nonce, at(packets, i & 1023)) },
  { name: 'B concat with final(), key Buffer', fn: (i) => openConcat(rawKey, nonce, at(packets, i & 1023)) },
  { name: 'B concat with final(), key KeyObject', fn: (i) => openConcat(keyObject, nonce, at(packets, i & 1023)) },
  { name: 'A auth failure, key KeyObject', fn: (i) => openDirect(keyObject, nonce, at(tampered, i & 1023)) },
  { name: 'C auth failure, no stack trace, KeyObject', fn: (i) => openNoStack(keyObject, nonce, at(tampered, i & 1023)) },
]);
const s = at(seals, 0).best;
const o = at(opens, 0).best;
const r = at(opens, 1).best;
console.log(
  `summary: seal ${s.toFixed(2)} µs (${Math.round(1e6 / s)} pkt/s), open ${o.toFixed(2)} µs ` +
    `(${Math.round(1e6 / o)} pkt/s), reject ${r.toFixed(2)} µs; rejecter stats ${JSON.stringify(rejecter.stats)}`,
);

// The two AEADs a session can negotiate: seal + open of one 1400-byte packet
// (1375 plaintext + 25), through the shipped classes.
const pairs = AEAD_ALGORITHMS.map((aead) => ({
  aead,
  sealer: new PacketSealer(rawKey, { aead }),
  opener: new PacketOpener(rawKey, { aead }),
}));
const aeads = race(
  'seal + open per 1400-byte packet, shipped classes',
  pairs.map((p) => ({
    name: p.aead,
    fn: () => {
      if (p.opener.open(p.sealer.seal(pt)) === null) throw new Error(`${p.aead} round trip failed`);
    },
  })),
);
console.log(`aead summary: ${aeads.map((c) => `${c.name} ${c.best.toFixed(2)} µs`).join(', ')}; this machine prefers ${aeadPreference()}`);
