/**
 * ikcp's congestion window, counted in segments: slow start up to ssthresh,
 * then roughly one segment per window of ACKs; a fast resend halves the
 * in-flight amount, a timeout collapses to one segment. Never larger than the
 * peer's advertised window.
 */
const THRESH_INIT = 2;
const THRESH_MIN = 2;

export class CongestionWindow {
  cwnd = 1;
  ssthresh = THRESH_INIT;
  /** Byte counter that paces growth above ssthresh. */
  incr: number;

  constructor(mss: number) {
    this.incr = mss;
  }

  /** Called once per input datagram that moved snd_una forward. */
  onProgress(rmtWnd: number, mss: number): void {
    if (this.cwnd >= rmtWnd) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd++;
      this.incr += mss;
    } else {
      if (this.incr < mss) this.incr = mss;
      this.incr += Math.floor((mss * mss) / this.incr) + Math.floor(mss / 16);
      // As current ikcp: catch cwnd up with incr rather than one step at a time.
      if ((this.cwnd + 1) * mss <= this.incr) this.cwnd = Math.ceil(this.incr / mss);
    }
    if (this.cwnd > rmtWnd) {
      this.cwnd = rmtWnd;
      this.incr = rmtWnd * mss;
    }
  }

  onFastResend(inflight: number, resend: number, mss: number): void {
    this.ssthresh = Math.max(THRESH_MIN, inflight >>> 1);
    this.cwnd = this.ssthresh + resend;
    this.incr = this.cwnd * mss;
  }

  onTimeout(window: number, mss: number): void {
    this.ssthresh = Math.max(THRESH_MIN, window >>> 1);
    this.cwnd = 1;
    this.incr = mss;
  }
}
