/**
 * The dashboard page's HTML and style: static, no framework, nothing fetched
 * from elsewhere. The script (page-script.ts) fills the tables from the live
 * snapshot; the CSP allows only these same-origin files.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>burrow rendezvous</title>
<link rel="stylesheet" href="/dashboard.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>burrow rendezvous</h1>
  <span id="live" class="live off" title="live updates">connecting…</span>
</header>
<section class="cards">
  <div class="card"><b id="n-services">–</b><span>services</span></div>
  <div class="card"><b id="n-providers">–</b><span>providers</span></div>
  <div class="card"><b id="n-visitors">–</b><span>visitors online</span></div>
  <div class="card"><b id="n-sessions">–</b><span>sessions</span></div>
  <div class="card"><b id="n-direct">–</b><span>direct now</span></div>
</section>
<section>
  <h2>Sessions</h2>
  <table id="sessions"><thead><tr><th>conn</th><th>service</th><th>path</th><th>RTT</th><th>to provider</th><th>to visitor</th><th>bytes ↑ / ↓</th><th>age</th><th>punches ✓/✗</th><th>reported by</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="sessions-empty">No sessions.</p>
</section>
<div class="two">
<section>
  <h2>Services and their providers</h2>
  <table id="services"><thead><tr><th>service</th><th>provider</th><th>address</th><th>NAT</th><th>online</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="services-empty">No services registered.</p>
</section>
<section>
  <h2>Visitors online</h2>
  <table id="visitors"><thead><tr><th>peer</th><th>address</th><th>NAT</th><th>online</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="visitors-empty">No visitors.</p>
</section>
</div>
<div class="two">
<section>
  <h2>Punch success by NAT pair</h2>
  <table id="pairs"><thead><tr><th>visitor NAT</th><th>provider NAT</th><th>direct</th><th>failed</th><th>success</th><th title="at the rendezvous: both offered / one declined / one silent">brokered</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="pairs-empty">No punches yet.</p>
</section>
<section>
  <h2>NAT types seen</h2>
  <table id="nats"><thead><tr><th>NAT</th><th>peers</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="nats-empty">No peers.</p>
</section>
</div>
<section>
  <h2>Recent failures</h2>
  <table id="failures"><thead><tr><th>when</th><th>conn</th><th>service</th><th>side</th><th>NATs</th><th>why, and the timeline</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="failures-empty">No failed punches.</p>
</section>
<footer id="footer"></footer>
</body>
</html>
`;

/** A burrow's mouth; served so the browser's own icon request finds something (a 404 is a console error). */
export const PAGE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2f855a"/><ellipse cx="16" cy="20" rx="9" ry="6" fill="#1d232b"/></svg>`;

export const PAGE_CSS = `
:root { --bg: #f6f7f9; --fg: #1d232b; --muted: #67707c; --line: #dde1e6; --relay: #b7791f; --direct: #2f855a; --bad: #c53030; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 16px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 18px 0 6px; }
.live { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #e2e8f0; }
.live.on { background: #c6f6d5; color: #22543d; }
.live.off { background: #fed7d7; color: #822727; }
.cards { display: flex; gap: 12px; margin-top: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 16px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); font-size: 12px; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; font-size: 12px; color: var(--muted); background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.35 ui-monospace, monospace; }
pre { margin: 4px 0 0; white-space: pre-wrap; max-height: 240px; overflow: auto; }
.path { font-weight: 600; padding: 1px 6px; border-radius: 4px; }
.path.relay { color: var(--relay); background: #fefcbf; }
.path.direct { color: var(--direct); background: #c6f6d5; }
.path.unknown, .path.none { color: var(--muted); background: #edf2f7; }
.why { color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); margin: 4px 0; }
.hidden { display: none; }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
`;
