/**
 * `burrow netsim scenarios --lane virtual`: the scenarios of
 * ../../scenarios/spec.ts in process (no root), printed as the kernel lane
 * prints them; those this lane cannot run are reported with the spec's reason.
 */
import { formatReport, isNotApplicable, type ScenarioReport, type ScenarioRunArgs } from '../../scenarios/outcome.js';
import { runVirtualScenario } from './suite.js';

/** Returns the exit status: 0 every scenario that runs here did as required, 1 not. */
export async function runVirtualScenarios(args: ScenarioRunArgs): Promise<number> {
  const reports: ScenarioReport[] = [];
  for (const mode of args.modes) {
    for (const name of args.only) {
      const r = await runVirtualScenario(name, mode, { transferBytes: args.sizeBytes });
      reports.push(r);
      if (!args.json) process.stdout.write(formatReport(r).join('\n') + '\n\n');
    }
  }
  if (args.json) process.stdout.write(JSON.stringify({ lane: 'virtual', sizeBytes: args.sizeBytes, reports }, null, 2) + '\n');
  return reports.some((r) => !isNotApplicable(r) && !r.verdict.ok) ? 1 : 0;
}
