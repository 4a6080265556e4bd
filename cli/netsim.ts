/**
 * `burrow netsim`: the NAT lab from the command line. `burrow netsim matrix`
 * runs burrow behind every pair of NAT profiles — the relay (--mode stcp) or
 * the direct path with relay fallback (--mode xtcp) — and prints the table
 * (see netsim/matrix/), on the kernel lane (real NATs, root), the in-process
 * lane (virtual NATs on a fake clock, no root) or both.
 */
import { Command, Option } from 'commander';
import { BurrowError } from '../src/errors.js';
import { INSTALL_HINT, PROFILES, PROFILE_NAMES, kernelLabSkipReason, sweepStale, type ProfileName } from '../netsim/kernel/index.js';
import { allPairs, cellText, contradictions, formatSummary, formatTable } from '../netsim/matrix/index.js';
import { MIB, REPRESENTATIVE_PAIRS, runKernelMatrix } from '../netsim/kernel/matrix/index.js';
import { VIRTUAL_PROFILES, runVirtualMatrix } from '../netsim/virtual/matrix/index.js';
import type { LabProfileName } from '../netsim/virtual/topology.js';
import { SCENARIO_NAMES, type ScenarioName } from '../netsim/scenarios/spec.js';

/** Exit status when the lab cannot run here (not root, packages missing). */
export const EXIT_CANNOT_RUN = 2;
/** Exit status when a cell contradicts the expected table (or the lab refused a NAT). */
export const EXIT_CONTRADICTS = 1;

function profileList(): string {
  const w = Math.max(...PROFILE_NAMES.map((n) => n.length)) + 2;
  return PROFILE_NAMES.map((n) => `  ${n.padEnd(w)}${PROFILES[n].title}`).join('\n');
}

/** Why the kernel lane cannot run here, worded for a CLI user; undefined when it can. */
export function netsimCannotRun(): string | undefined {
  if (process.platform === 'linux' && typeof process.getuid === 'function' && process.getuid() !== 0) {
    return (
      'burrow netsim needs root: it builds network namespaces, veth links and nftables NATs.\n' +
      `Run it as root (e.g. sudo burrow netsim matrix), with these Debian packages installed:\n  ${INSTALL_HINT}`
    );
  }
  const why = kernelLabSkipReason({ portmapRouter: true });
  return why ? `burrow netsim cannot run here: ${why}` : undefined;
}

function parseProfiles(text: string, known: readonly string[] = PROFILE_NAMES): string[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length || names.length === 0) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--profiles: unknown profile ${unknown.join(', ') || '(none given)'}; known: ${known.join(', ')}`);
  }
  return [...new Set(names)];
}

function parseScenarioNames(text: string): ScenarioName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--only: unknown scenario ${unknown.join(', ') || '(none given)'}; known: ${SCENARIO_NAMES.join(', ')}`);
  }
  return names as ScenarioName[];
}

type Lane = 'kernel' | 'virtual' | 'both';
type Mode = 'stcp' | 'xtcp';

interface MatrixCliOptions {
  lane: Lane;
  mode: Mode;
  profiles?: string;
  subset?: boolean;
  size: number;
  seed: number;
  json?: boolean;
  verbose?: boolean;
}

const err = (s: string): void => void process.stderr.write(s + '\n');

/** The in-process lane: no root, no processes; returns the exit status. */
async function runVirtualLane(opts: MatrixCliOptions): Promise<number> {
  const asked = opts.profiles ? parseProfiles(opts.profiles, opts.lane === 'both' ? PROFILE_NAMES : VIRTUAL_PROFILES) : VIRTUAL_PROFILES;
  // Every kernel profile has an in-process model: each name asked is one of VIRTUAL_PROFILES (kept in the order asked).
  const profiles: LabProfileName[] = asked.flatMap((n) => VIRTUAL_PROFILES.find((p) => p === n) ?? []);
  const chosen = new Set<string>(profiles);
  const pairs = opts.subset ? REPRESENTATIVE_PAIRS.filter(([a, b]) => chosen.has(a) && chosen.has(b)) : allPairs(profiles);
  if (pairs.length === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', 'no representative pair uses only those profiles');
  err(`netsim matrix, in-process lane, ${opts.mode}: ${pairs.length} pairs, ${opts.size} MiB each way per pair, seed ${opts.seed}`);
  const run = await runVirtualMatrix({
    pairs,
    sizeBytes: Math.round(opts.size * MIB),
    seed: opts.seed,
    mode: opts.mode,
    onPair: (r, done, total) =>
      err(
        `  [${done}/${total}] ${r.provider} -> ${r.visitor}: ${cellText(r)}` +
          (r.outcome === 'failed'
            ? ` (${r.error ?? 'failed'})`
            : ` (virtual: set-up ${Math.round(r.setupMs ?? 0)} ms,` +
              (r.directMs !== null ? ` direct after ${Math.round(r.directMs)} ms,` : '') +
              ` first byte ${Math.round(r.ttfbMs ?? 0)} ms; wall ${Math.round(r.realMs)} ms)`),
      ),
  });
  if (opts.json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
  else process.stdout.write(`${formatTable(run)}\n\n${formatSummary(run)}\n`);
  return contradictions(run).length > 0 ? EXIT_CONTRADICTS : 0;
}

/** The kernel lane: namespaces, nftables, real CLI processes; returns the exit status. */
async function runKernelLane(opts: MatrixCliOptions): Promise<number> {
  const profiles = (opts.profiles ? parseProfiles(opts.profiles) : PROFILE_NAMES) as ProfileName[];
  const chosen = new Set(profiles);
  const pairs = opts.subset ? REPRESENTATIVE_PAIRS.filter(([a, b]) => chosen.has(a) && chosen.has(b)) : allPairs(profiles);
  if (pairs.length === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', 'no representative pair uses only those profiles');
  const cannot = netsimCannotRun();
  if (cannot) {
    process.stderr.write(`${cannot}\n`);
    return EXIT_CANNOT_RUN;
  }
  const swept = await sweepStale().catch(() => undefined);
  if (swept?.removed.length) err(`removed ${swept.removed.length} namespaces left by crashed earlier runs`);
  err(`netsim matrix, ${opts.mode}: ${pairs.length} pairs, ${opts.size} MiB each way per pair (this takes a while; Ctrl-C tears down cleanly)`);
  let run;
  try {
    run = await runKernelMatrix({
      pairs,
      sizeBytes: Math.round(opts.size * MIB),
      mode: opts.mode,
      log: (m) => {
        if (opts.verbose || !m.startsWith('lab: ')) err(`  ${m}`);
      },
      onPair: (r, done, total) =>
        err(
          `  [${done}/${total}] ${r.provider} -> ${r.visitor}: ${cellText(r)}` +
            (r.outcome === 'failed' ? ` (${r.error ?? 'failed'})` : ` (set-up ${Math.round(r.setupMs ?? 0)} ms, first byte ${Math.round(r.ttfbMs ?? 0)} ms)`),
        ),
    });
  } catch (e) {
    err(`netsim matrix could not run: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_CONTRADICTS;
  }
  if (opts.json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
  else process.stdout.write(`${formatTable(run)}\n\n${formatSummary(run)}\n`);
  return contradictions(run).length > 0 || run.leftNamespaces.length > 0 ? EXIT_CONTRADICTS : 0;
}

/**
 * Runs `burrow netsim <args>` (cli/program.ts loads this module only then).
 * Usage errors and --help end in a thrown CommanderError, as in the main program.
 */
export async function runNetsimCommand(args: readonly string[], exit: (code: number) => void): Promise<void> {
  const program = new Command('burrow')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();
  addNetsimCommand(program, exit);
  await program.parseAsync(['netsim', ...args], { from: 'user' });
}

export function addNetsimCommand(program: Command, exit: (code: number) => void): void {
  const netsim = program
    .command('netsim')
    .description('the NAT lab: run burrow behind real Linux NATs (network namespaces) and check the outcome of every pair')
    .addHelpText(
      'after',
      `
Two lanes: the kernel lane (the default) runs real burrow processes behind
real Linux NATs; the in-process lane (--lane virtual) runs the same code on a
virtual network with modelled NATs and a fake clock, needs nothing, and
repeats exactly for a given seed.

What the kernel lane needs:
  Linux and root (it creates network namespaces, veth links and nftables rules;
  everything it creates carries a run id and is removed when it ends, also on
  Ctrl-C), and these Debian packages:
    ${INSTALL_HINT}
  Without them it says what is missing and exits with status 2.

The lab: a core router, a rendezvous/STUN server with a public address, and
one "site" per NAT profile (a NAT router with a host behind it). Every site's
NAT is classified by Debian's independent stun client against stund in the lab
before use; a NAT that does not classify as claimed is refused. The
upnp-router site's router also runs Debian's miniupnpd (NAT-PMP, PCP, UPnP
IGD) on a non-reserved public address; its peers run with port mapping on.

NAT profiles:
${profileList()}

burrow netsim matrix runs, for each pair of profiles, a provider (and a TCP
service) behind the first NAT and a visitor behind the second, through one
rendezvous, and moves 16 MiB each way through the tunnel, checking SHA-256
both ways. The table has one row per provider-side profile and one column per
visitor-side profile. A pair of a profile with itself uses two sites of that
profile, so the path crosses two such NATs. The run is compared with the
expected-outcome table (netsim/matrix/expected.ts), which has three columns:

  --mode stcp (default): the relay column. Every pair must relay, byte-exact
    (the relay is TCP, so even udp-blocked must work). A cell says how the
    bytes went and how long moving both directions took, e.g. "relay 0.5s".
  --mode xtcp: the direct column, reasoned from RFC 4787 (how each NAT maps
    and filters UDP). The peers punch a path (relay meanwhile) before the
    bytes move. "direct" (both NATs keep one mapping per socket, the other
    side is a full or restricted cone, or a router maps a port on request:
    upnp-router) and "prediction" (a sequential NAT's
    next port is guessed) must go direct; "relay" (UDP blocked, or both NATs
    symmetric) must relay and say why; "birthday" (a random-port symmetric NAT
    against a port-dependent filter: many mappings times many probes) may do
    either. A cell shows the path and the time from the visitor's session up
    to the direct path, e.g. "direct 0.3s", or for a relayed pair the time to
    move both directions, e.g. "relay 0.2s".
  via (xtcp, a pair that went direct): "mapped" pairs (a router mapping is
    the only way in: upnp-router against a symmetric NAT or another
    upnp-router) must go through the router's mapped port, shown as
    "mapped 0.4s"; "either" pairs may take it or a punched path; pairs
    without a port-mapping router must not take a mapping.

FAIL means the bytes did not arrive intact; "!" marks a cell that contradicts
the table. The exit status is 0 when every cell is as expected, 1 when one is not.

Example:
  sudo burrow netsim matrix                         all ${PROFILE_NAMES.length ** 2} ordered pairs, a few minutes
  sudo burrow netsim matrix --mode xtcp --subset    the direct path behind the representative pairs
  sudo burrow netsim matrix --profiles full-cone,symmetric-random,udp-blocked
  sudo burrow netsim matrix --subset --json         the representative pairs the tests run`,
    )
    .action(() => {
      netsim.help();
    });

  netsim
    .command('scenarios')
    .description('break things mid-session and report what burrow did: conntrack -F, rendezvous killed, forged-packet spray, idle past the mapping lifetime (kernel lane: real NATs, root; virtual lane: in process)')
    .addOption(
      new Option('--lane <lane>', 'kernel (real NATs in network namespaces, root) or virtual (in process, fake clock)').choices(['kernel', 'virtual']).default('kernel'),
    )
    .addOption(new Option('--mode <mode>', 'which tunnel mode to put through them').choices(['stcp', 'xtcp', 'both']).default('both'))
    .option('--only <list>', `comma-separated scenarios: ${SCENARIO_NAMES.join(', ')} (default: all)`)
    .option('--size <MiB>', 'MiB moved each way by the transfers that get broken', (v) => Number(v), 64)
    .option('--json', 'one JSON document instead of text')
    .addHelpText(
      'after',
      `
Every scenario is written once (netsim/scenarios/spec.ts): the NATs, the
traffic, the fault and what each mode must do (stcp cannot keep a relayed
transfer when the rendezvous dies; xtcp must). Each lane runs it and says
whether it did as required, or why it cannot run it ("not applicable in this
lane: ..."). Exit 0 when every scenario that ran did, 1 when one did not, 2
when the kernel lab cannot run here.

Examples:
  sudo burrow netsim scenarios --mode xtcp --only conntrack-flush,rendezvous-kill
  burrow netsim scenarios --lane virtual --mode xtcp --size 16`,
    )
    .action(async (opts: { lane: 'kernel' | 'virtual'; mode: string; only?: string; size: number; json?: boolean }) => {
      if (!Number.isFinite(opts.size) || opts.size <= 0 || opts.size > 4096) {
        throw new BurrowError('ERR_INVALID_ARGUMENT', '--size must be a number of MiB between 0 and 4096');
      }
      const only = opts.only === undefined ? [...SCENARIO_NAMES] : parseScenarioNames(opts.only);
      const args = {
        modes: opts.mode === 'both' ? (['stcp', 'xtcp'] as const) : ([opts.mode as 'stcp' | 'xtcp'] as const),
        only,
        sizeBytes: Math.round(opts.size * MIB),
        json: opts.json === true,
      };
      if (opts.lane === 'virtual') {
        const { runVirtualScenarios } = await import('../netsim/virtual/scenarios/run.js');
        return exit(await runVirtualScenarios({ ...args, modes: [...args.modes] }));
      }
      const { runKernelScenarios } = await import('../netsim/kernel/scenarios/run.js');
      exit(await runKernelScenarios({ ...args, modes: [...args.modes] }));
    });

  netsim
    .command('matrix')
    .description('run burrow behind every pair of NAT profiles and print the table (kernel lane: needs root; virtual lane: in process, no root)')
    .addOption(
      new Option('--lane <lane>', 'which lab: kernel (real NATs in network namespaces, root), virtual (in process, fake clock), or both')
        .choices(['kernel', 'virtual', 'both'])
        .default('kernel'),
    )
    .addOption(
      new Option('--mode <mode>', 'stcp: the relay only, every pair must relay; xtcp: punch a direct path (relay fallback), checked against the direct column')
        .choices(['stcp', 'xtcp'])
        .default('stcp'),
    )
    .option('--profiles <list>', `comma-separated profiles (default: all; kernel ${PROFILE_NAMES.length}, virtual ${VIRTUAL_PROFILES.length} with symmetric-sequential)`)
    .option('--subset', 'only the representative pairs the test suite runs (every profile on each side at least once)')
    .option('--size <MiB>', 'MiB moved each way per pair', (v) => Number(v), 16)
    .option('--seed <n>', 'virtual lane: seed of the first pair (pair i uses seed + i); the same seed repeats the run exactly', (v) => Number(v), 1)
    .option('--json', 'print the whole run as JSON instead of the table')
    .option('--verbose', 'log every lab step on stderr')
    .addHelpText(
      'after',
      `
The virtual lane runs the real rendezvous, provider and visitor code in this
process on an in-process network (RFC 4787 NAT models, virtual TCP, a fake
clock, seeded randomness); cell times are virtual. It needs no root.

In xtcp mode (--mode xtcp) a cell shows the path the connection took and the
virtual time from the visitor's session up to the direct path ("direct
0.3s"), or "relay" with the time to move both directions where the expected
table says no direct path exists (or birthday probing missed).

Examples:
  burrow netsim matrix --lane virtual                   all ${VIRTUAL_PROFILES.length ** 2} ordered pairs in process, about a minute
  burrow netsim matrix --lane virtual --mode xtcp --size 1   the direct path behind all ${VIRTUAL_PROFILES.length ** 2} pairs, ~20 s
                                                        (the kernel lane's profiles plus symmetric-sequential;
                                                        upnp-router's router answers NAT-PMP and PCP, not UPnP)
                                                        (16 MiB each way over 1400-byte datagrams: ~3 min)
  burrow netsim matrix --lane virtual --subset --size 1
  sudo burrow netsim matrix --lane both --subset

See \`burrow netsim --help\` for what the kernel lane needs, the profiles, and what the table means.`,
    )
    .action(async (opts: MatrixCliOptions) => {
      if (!Number.isFinite(opts.size) || opts.size <= 0 || opts.size > 1024) {
        throw new BurrowError('ERR_INVALID_ARGUMENT', '--size must be a number of MiB between 0 and 1024');
      }
      if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
        throw new BurrowError('ERR_INVALID_ARGUMENT', '--seed must be an integer between 0 and 4294967295');
      }
      if (opts.lane === 'virtual') return exit(await runVirtualLane(opts));
      if (opts.lane === 'kernel') return exit(await runKernelLane(opts));
      // Both: the in-process lane first (it always runs), then the kernel lane if it can.
      const virtual = await runVirtualLane(opts);
      process.stdout.write('\n');
      const kernel = await runKernelLane(opts);
      exit(Math.max(virtual === EXIT_CONTRADICTS || kernel === EXIT_CONTRADICTS ? EXIT_CONTRADICTS : 0, kernel === EXIT_CANNOT_RUN ? EXIT_CANNOT_RUN : 0));
    });
}
