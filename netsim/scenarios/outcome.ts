/**
 * What a scenario run reports, on either lane: a verdict against the spec's
 * expectation for the mode, or why the scenario does not run in this lane
 * and mode; and the text both lanes' runners print for it.
 */
import { SCENARIOS, type Lane, type ScenarioMode, type ScenarioName } from './spec.js';

/** A scenario's judgement against what its mode must do. */
export interface Verdict {
  ok: boolean;
  /** What the mode must do, in words. */
  expected: string;
  /** Each way it did not (empty when ok). */
  failures: string[];
}

export interface ScenarioOutcome {
  name: ScenarioName;
  lane: Lane;
  mode: ScenarioMode;
  verdict: Verdict;
  /** Human-readable lines: what happened, with the numbers. */
  lines: string[];
  /** The scenario's full result (JSON-able). */
  result: object;
  /** Wall-clock ms it took. */
  ms: number;
}

export interface NotApplicable {
  name: ScenarioName;
  lane: Lane;
  mode: ScenarioMode;
  /** Why the scenario does not run in this lane and mode (from the spec). */
  notApplicable: string;
}

export type ScenarioReport = ScenarioOutcome | NotApplicable;

/** What a lane's scenario runner is asked to run (`burrow netsim scenarios`). */
export interface ScenarioRunArgs {
  modes: ScenarioMode[];
  only: ScenarioName[];
  /** Bytes each way of the transfers something breaks mid-way. */
  sizeBytes: number;
  json: boolean;
}

export function isNotApplicable(r: ScenarioReport): r is NotApplicable {
  return 'notApplicable' in r;
}

/** A verdict from a list of failures and the spec's requirement text. */
export function verdictOf(name: ScenarioName, mode: ScenarioMode, failures: string[]): Verdict {
  return { ok: failures.length === 0, expected: SCENARIOS[name].expect[mode].text, failures };
}

/** The report as text: a heading, what happened, what was required, each shortfall. */
export function formatReport(r: ScenarioReport): string[] {
  const head = `[${r.lane} ${r.mode}] ${r.name}`;
  if (isNotApplicable(r)) return [`${head}: not applicable in this lane: ${r.notApplicable}`];
  const lines = [`${head}: ${r.verdict.ok ? 'as required' : 'NOT as required'} (${(r.ms / 1000).toFixed(1)} s)`];
  for (const l of r.lines) lines.push(`  ${l}`);
  lines.push(`  required: ${r.verdict.expected}`);
  const unchecked = SCENARIOS[r.name].unchecked?.[r.lane];
  if (unchecked) lines.push(`  not checked in this lane: ${unchecked}`);
  for (const f of r.verdict.failures) lines.push(`  ✗ ${f}`);
  return lines;
}
