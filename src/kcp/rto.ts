/**
 * Retransmission timeout from RTT samples (Jacobson/Karels, integer maths as
 * in ikcp): rto = srtt + max(interval, 4 * rttvar), clamped to
 * [minRto, 60000]. The interval floor keeps the RTO above the peer's
 * worst-case ACK delay.
 */
import { KCP_RTO_MAX } from './options.js';

export const KCP_RTO_DEFAULT = 200;

export class RtoEstimator {
  srtt = 0;
  rttvar = 0;
  rto = KCP_RTO_DEFAULT;

  sample(rtt: number, interval: number, minRto: number): void {
    if (this.srtt === 0) {
      this.srtt = rtt;
      this.rttvar = rtt >> 1;
    } else {
      const delta = rtt > this.srtt ? rtt - this.srtt : this.srtt - rtt;
      this.rttvar = Math.floor((3 * this.rttvar + delta) / 4);
      this.srtt = Math.max(1, Math.floor((7 * this.srtt + rtt) / 8));
    }
    const rto = this.srtt + Math.max(interval, 4 * this.rttvar);
    this.rto = Math.min(KCP_RTO_MAX, Math.max(minRto, rto));
  }
}
