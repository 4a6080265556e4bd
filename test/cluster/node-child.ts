/**
 * A cluster node in a process of its own, for tests that freeze it with
 * SIGSTOP: `node node-child.js SOCKET NODE_ID NAME[,NAME…]`. Prints one JSON
 * line per event on stdout ({"ev":"ready"}, "lost", "acquired",
 * "claim-lost"); exits when stdin closes.
 */
import { makeNode } from './support.js';

const [socket, nodeId, names] = process.argv.slice(2);
if (socket === undefined || nodeId === undefined || names === undefined) {
  process.stderr.write('usage: node-child SOCKET NODE_ID NAMES\n');
  process.exit(2);
}
const say = (o: Record<string, string>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const node = makeNode(socket, nodeId);
node.on('lost', (reason) => say({ ev: 'lost', reason }));
node.on('acquired', () => say({ ev: 'acquired' }));
node.on('claim-lost', (name, owner) => say({ ev: 'claim-lost', name, owner }));
await node.start();
const answers = await node.claim(names.split(','));
say({ ev: 'ready', answers: answers.map((a) => a.kind).join(',') });
process.stdin.resume();
process.stdin.on('end', () => {
  void node.close().then(() => process.exit(0));
});
