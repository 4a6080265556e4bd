/**
 * Runs the scenarios of ../../scenarios/spec.ts on the kernel lane with the
 * full payload and prints what happened: `burrow netsim scenarios`, or
 * `node dist/netsim/kernel/scenarios/run.js [options]` as root, after `npm run build`.
 *
 *   --mode stcp|xtcp|both   default stcp; a mode the CLI refuses is reported "not implemented yet"
 *   --only a,b              scenarios by name (default all of the spec's; those this lane cannot run are reported so)
 *   --size MIB              bytes each way of the broken transfers (default 64)
 *   --json                  one JSON document instead of text
 *
 * Exit status: 0 every scenario as its mode requires, 1 some not, 2 cannot run here.
 */
import { fileURLToPath } from 'node:url';
import { kernelLabSkipReason } from '../prereq.js';
import { modeSupport, type ModeSupport } from './procs.js';
import { ScenarioLab } from './scenario-lab.js';
import { FULL_SIZES, MIB, reportScenario } from './suite.js';
import { SCENARIO_NAMES, type ScenarioMode, type ScenarioName } from '../../scenarios/spec.js';
import { formatReport, isNotApplicable, type ScenarioReport, type ScenarioRunArgs } from '../../scenarios/outcome.js';


function parse(argv: string[]): ScenarioRunArgs | string {
  const a: ScenarioRunArgs = { modes: ['stcp'], only: [...SCENARIO_NAMES], sizeBytes: FULL_SIZES.transferBytes, json: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const v = argv[i + 1];
    if (f === '--json') a.json = true;
    else if (f === '--mode' && v) {
      i++;
      if (v === 'both') a.modes = ['stcp', 'xtcp'];
      else if (v === 'stcp' || v === 'xtcp') a.modes = [v];
      else return `--mode must be stcp, xtcp or both, got ${v}`;
    } else if (f === '--only' && v) {
      i++;
      const names = v.split(',').map((s) => s.trim());
      const bad = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
      if (bad.length) return `unknown scenario ${bad.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`;
      a.only = names as ScenarioName[];
    } else if (f === '--size' && v) {
      i++;
      const n = Number(v);
      if (!(n > 0 && n <= 4096)) return `--size must be 1..4096 MiB, got ${v}`;
      a.sizeBytes = Math.round(n * MIB);
    } else return `unknown argument ${f}`;
  }
  return a;
}

interface ModeReport {
  mode: ScenarioMode;
  support: ModeSupport;
  outcomes: ScenarioReport[];
  error?: string;
}

/** This file's own command line; returns the exit status. */
export async function runScenariosCli(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (typeof args === 'string') {
    process.stderr.write(`scenarios: ${args}\nusage: run [--mode stcp|xtcp|both] [--only names] [--size MiB] [--json]\n`);
    return 2;
  }
  return runKernelScenarios(args);
}

/** `burrow netsim scenarios --lane kernel`: every mode and scenario asked for; returns the exit status. */
export async function runKernelScenarios(args: ScenarioRunArgs): Promise<number> {
  const why = kernelLabSkipReason();
  if (why) {
    process.stderr.write(`scenarios: cannot run here: ${why}\n`);
    return 2;
  }
  const say = (s: string): void => {
    if (!args.json) process.stdout.write(s + '\n');
  };
  const reports: ModeReport[] = [];
  for (const mode of args.modes) {
    const support = await modeSupport(mode);
    const rep: ModeReport = { mode, support, outcomes: [] };
    reports.push(rep);
    if (!support.supported) {
      say(`${mode}: not implemented yet (the CLI says: ${support.reason})`);
      continue;
    }
    say(`${mode}: building the lab…`);
    let sl: ScenarioLab | undefined;
    try {
      sl = await ScenarioLab.create({ mode });
      for (const name of args.only) {
        const o = await reportScenario(name, sl, { transferBytes: args.sizeBytes });
        rep.outcomes.push(o);
        say('');
        for (const l of formatReport(o)) say(l);
      }
    } catch (e) {
      rep.error = e instanceof Error ? e.message : String(e);
      say(`${mode}: ${rep.error}`);
    } finally {
      const left = await sl?.close();
      if (left?.length) say(`left behind: ${left.join(', ')}`);
    }
  }
  if (args.json) process.stdout.write(JSON.stringify({ lane: 'kernel', sizeBytes: args.sizeBytes, reports }, null, 2) + '\n');
  const bad = reports.some((r) => r.error !== undefined || r.outcomes.some((o) => !isNotApplicable(o) && !o.verdict.ok));
  return bad ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runScenariosCli(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`scenarios: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
