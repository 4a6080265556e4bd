import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cpuMeter, parseStat, treeCpuSeconds } from '../../bench/lib/proc-cpu.js';

// A /proc/PID/stat line: pid (comm) state ppid … utime=14 stime=15 cutime=16 cstime=17 …
const line = (comm: string, ppid: number, [u, s, cu, cs]: number[]): string =>
  `4242 (${comm}) S ${ppid} 1 1 0 -1 4194560 100 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 100 1000 10 ` + '0 '.repeat(30) + '\n';

/** JS that spins until this process has used `ms` of CPU (by CPU time, not wall time: the machine may be busy). */
const BURN = (ms: number): string => `while(process.cpuUsage().user+process.cpuUsage().system<${ms * 1000}){}`;

/** A node child that burns `ms` of CPU, then waits for stdin to close. */
function burner(ms: number) {
  const code = `${BURN(ms)}process.stdout.write('done');process.stdin.resume();process.stdin.on('end',()=>process.exit(0));`;
  return spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'ignore'] });
}

describe('proc-cpu', { skip: existsSync('/proc/self/stat') ? false : 'needs Linux /proc' }, () => {
  it('reads ppid and user+sys+children ticks, even when the command name holds spaces and parentheses', () => {
    assert.deepEqual(parseStat(4242, line('node', 7, [10, 5, 3, 2])), { pid: 4242, ppid: 7, ticks: 20 });
    assert.deepEqual(parseStat(4242, line('sshd: root) (x', 9, [1, 2, 3, 4])), { pid: 4242, ppid: 9, ticks: 10 });
    assert.equal(parseStat(4242, 'garbage'), null);
    assert.equal(parseStat(4242, '4242 (x) S'), null);
  });

  it("counts a live child's CPU and a reaped child's CPU under the parent's tree", async () => {
    // A shell whose first child burns 0.3 s and exits (reaped: in the shell's cutime), whose second burns 0.3 s and stays alive.
    const node = JSON.stringify(process.execPath);
    const sh = spawn('sh', ['-c', `${node} -e "${BURN(300)}"; ${node} -e "${BURN(300)};setTimeout(()=>{},30000)"`], { stdio: 'ignore', detached: true });
    try {
      assert.ok(sh.pid);
      const meter = cpuMeter({ tree: [sh.pid] });
      const deadline = Date.now() + 30_000;
      let total = 0;
      while (Date.now() < deadline && total < 0.58) {
        await new Promise((r) => setTimeout(r, 100));
        total = treeCpuSeconds([sh.pid])[0] ?? 0;
      }
      assert.ok(total >= 0.58, `tree CPU ${total} s should hold both burners' 0.3 s`);
      // The meter counts from its own first reading: what the first burner spent
      // before it (a loaded machine can let it run a while) is not in it.
      const before = meter.startedWith['tree'] ?? 0;
      const counted = meter.stop()['tree'] ?? 0;
      assert.ok(counted >= 0.58 - before - 0.02, `meter ${counted} s, ${before} s before its first reading`);
    } finally {
      if (sh.pid) process.kill(-sh.pid, 'SIGKILL'); // its own process group: the shell and both children
    }
  });

  it('reports 0 for a process that is gone and only the tree asked for', async () => {
    const b = burner(200);
    try {
      await once(b.stdout, 'data');
      assert.ok(b.pid);
      const [mine, gone] = treeCpuSeconds([b.pid, 2 ** 22 + 12345]);
      assert.ok((mine ?? 0) >= 0.19, `burner spent ${mine} s`);
      assert.equal(gone, 0);
    } finally {
      b.stdin.end();
      await once(b, 'exit');
    }
  });
});
