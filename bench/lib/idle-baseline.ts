/** A child that only holds a UDP socket open: the baseline for idle wake-ups. */
import { bindUdpSocket } from '../../src/net/index.js';

const socket = await bindUdpSocket({ address: '127.0.0.1', port: 0 });
socket.onMessage(() => {});
process.send?.('ready');
