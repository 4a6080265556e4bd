/**
 * The dashboard page's script, served as /dashboard.js. It reads the live
 * snapshot (Server-Sent Events, /api/events) and redraws the tables. Every
 * value goes in as text (textContent), never as HTML: service names, peer
 * names and failure reasons come from peers.
 */
export const PAGE_SCRIPT = `'use strict';
(function () {
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function bytes(n) {
    if (n === undefined || n === null) return '–';
    var u = ['B', 'kB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
  }
  function rate(n) { return n === undefined || n === null ? '–' : bytes(n) + '/s'; }
  function dur(s) {
    if (s === undefined || s === null) return '–';
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }
  var NAT = { no_udp: 'no UDP', cone: 'cone', symmetric_preserving: 'symmetric (port-preserving)', symmetric_sequential: 'symmetric (sequential)', symmetric_random: 'symmetric (random)', unknown: 'unknown' };
  function nat(c) { return NAT[c] || c; }
  function pathWords(s) {
    if (s.path === 'relay') return 'relay';
    if (s.path === 'direct_lan') return 'direct LAN' + (s.family === 'ipv6' ? ' IPv6' : '');
    if (s.path === 'direct_internet') return 'direct internet' + (s.family === 'ipv6' ? ' IPv6' : '');
    if (s.path === 'none') return 'no path yet';
    return 'relay link (not reported)';
  }
  function fill(id, rows, make) {
    var body = $(id).tBodies[0];
    var fresh = document.createElement('tbody');
    rows.forEach(function (r) { fresh.appendChild(make(r)); });
    $(id).replaceChild(fresh, body);
    $(id).classList.toggle('hidden', rows.length === 0);
    $(id + '-empty').classList.toggle('hidden', rows.length !== 0);
  }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { tr.appendChild(c); });
    return tr;
  }
  function num(v) { return el('td', v, 'num'); }

  function render(s) {
    var direct = s.sessions.filter(function (x) { return x.path === 'direct_lan' || x.path === 'direct_internet'; }).length;
    $('n-services').textContent = s.services.length;
    $('n-providers').textContent = s.providers.length;
    $('n-visitors').textContent = s.visitors.length;
    $('n-sessions').textContent = s.sessions.length;
    $('n-direct').textContent = direct;

    fill('sessions', s.sessions, function (x) {
      var path = el('td');
      var badge = el('span', pathWords(x), 'path ' + (x.path.indexOf('direct') === 0 ? 'direct' : x.path));
      badge.setAttribute('data-path', x.path);
      path.appendChild(badge);
      if (x.direct && x.path.indexOf('direct') !== 0) path.appendChild(el('div', x.direct, 'why'));
      var tr = row([
        el('td', x.conn, 'mono'), el('td', x.service), path,
        num(x.rttMs === undefined ? '–' : x.rttMs + ' ms'),
        num(rate(x.sendRate)), num(rate(x.receiveRate)),
        num(bytes(x.bytesSent) + ' / ' + bytes(x.bytesReceived)),
        num(dur(x.ageSeconds)),
        num(x.punchesDirect === undefined ? '–' : x.punchesDirect + ' / ' + x.punchesFailed),
        el('td', x.reportedBy || '–'),
      ]);
      tr.setAttribute('data-conn', x.conn);
      return tr;
    });

    var byId = {};
    s.providers.forEach(function (p) { byId[p.id] = p; });
    fill('services', s.services, function (x) {
      var p = x.provider ? byId[x.provider] : null;
      return row([el('td', x.name), el('td', p ? p.id + (p.name ? ' (' + p.name + ')' : '') : '–'), el('td', p ? p.remote : '–'), el('td', p ? nat(p.nat) : '–'), num(p ? dur(p.connectedSeconds) : '–')]);
    });
    fill('visitors', s.visitors, function (v) {
      return row([el('td', v.id + (v.name ? ' (' + v.name + ')' : '')), el('td', v.remote), el('td', nat(v.nat)), num(dur(v.connectedSeconds))]);
    });
    fill('pairs', s.punchPairs, function (p) {
      var tried = p.direct + p.failed;
      return row([el('td', nat(p.visitorNat)), el('td', nat(p.providerNat)), num(p.direct), num(p.failed),
        num(tried === 0 ? '–' : Math.round((100 * p.direct) / tried) + ' %'),
        num(p.introduced + ' / ' + p.declined + ' / ' + p.timeout)]);
    });
    fill('nats', s.natTypes, function (n) { return row([el('td', nat(n.nat)), num(n.peers)]); });
    fill('failures', s.failures, function (f) {
      var why = el('td');
      why.appendChild(el('div', f.reason));
      if (f.timeline) {
        var d = el('details');
        d.appendChild(el('summary', 'timeline (attempt ' + f.attempt + ')'));
        d.appendChild(el('pre', f.timeline));
        why.appendChild(d);
      }
      return row([el('td', dur(f.ageSeconds) + ' ago'), el('td', f.conn), el('td', f.service), el('td', f.role), el('td', nat(f.visitorNat) + ' → ' + nat(f.providerNat)), why]);
    });
    $('footer').textContent = 'Updated ' + new Date().toLocaleTimeString() + '. Peer reports: ' +
      (s.reports.everyMs === null ? 'not asked for' : 'every ' + s.reports.everyMs / 1000 + ' s, ' + s.reports.taken + ' taken, ' + s.reports.dropped + ' dropped') + '.';
  }

  function live(on, text) {
    var l = $('live');
    l.className = 'live ' + (on ? 'on' : 'off');
    l.textContent = text;
  }

  function connect() {
    var es = new EventSource('/api/events');
    es.onopen = function () { live(true, 'live'); };
    es.onmessage = function (ev) {
      live(true, 'live');
      render(JSON.parse(ev.data));
    };
    es.onerror = function () { live(false, 'reconnecting…'); };
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', connect);
  else connect();
})();
`;
