/**
 * Helper for ipv6-lab.test.ts (not a test): builds an IPv6 lab with a site and
 * a lab name, prints what it made, then dies of an uncaught error, as a test
 * that fails without a `finally` would. The parent checks nothing is left.
 */
import { Lab } from '../../netsim/kernel/index.js';

const lab = await Lab.create({ ipv6: true, selfCheck: false });
await lab.addSite('port-restricted-cone', { ipv6: 'dual', verify: false });
lab.addName('crash.lab.example');
process.stdout.write(JSON.stringify({ runId: lab.runId, namespaces: lab.namespaces() }) + '\n');
throw new Error('simulated test failure with the lab still open');
