export { DIRECT_TIMERS, PATH_DEATH_MS, retryDelayMs } from './timers.js';
export { shortenedKeepalive } from './keepalive-policy.js';
export { AttemptMachine, type AttemptAction, type AttemptPhase, type AttemptMachineOptions } from './attempt-machine.js';
export { PathMonitor, type PathHealth, type PathMonitorOptions } from './path-monitor.js';
export { LockedPath, type LockedPathOptions, type DirectSession } from './locked-path.js';
export { UdpPath } from './udp-path.js';
export { classifySocketError, type SocketErrorClass } from './socket-error.js';
export { primeTtlFor } from './prime-ttl.js';
