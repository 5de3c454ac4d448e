// Draws the report from the JSON in #report-data: state and run-time maps (one panel per value
// of the two other axes), progress over time, predicted vs actual, failures, hosts and runs.
// Plain DOM and SVG; nothing is loaded from anywhere.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var STATES = ['pending', 'running', 'finished', 'failed', 'skipped', 'cancelled'];
  var CODE = { p: 'pending', r: 'running', f: 'finished', x: 'failed', s: 'skipped', c: 'cancelled' };
  // Okabe-Ito: told apart with every common colour-vision deficiency.
  var COLOR = {
    pending: '#d9d9d9', running: '#0072B2', finished: '#009E73', failed: '#D55E00', skipped: '#F0E442',
    cancelled: '#CC79A7'
  };
  var VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  var root = document.getElementById('report');
  root.textContent = '';

  function html(tag, text, parent, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function dur(s) {
    if (s === null || s === undefined || s < 0) return '?';
    if (s < 10) return (s === Math.round(s) ? s : s.toFixed(1)) + 's';
    s = Math.round(s);
    if (s < 120) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 120) return m + 'm' + ('0' + (s % 60)).slice(-2) + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h' + ('0' + (m % 60)).slice(-2) + 'm';
    return Math.floor(h / 24) + 'd' + ('0' + (h % 24)).slice(-2) + 'h';
  }
  function decode(str, i) {
    if (!str) return -1;
    var a = str.charAt(2 * i);
    if (a === '.' || a === '') return -1;
    return Math.exp((B64.indexOf(a) * 64 + B64.indexOf(str.charAt(2 * i + 1)) - 700) / 100);
  }
  function viridis(t) {
    t = Math.max(0, Math.min(1, t));
    var x = t * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
    var a = parseInt(VIRIDIS[i].slice(1), 16), b = parseInt(VIRIDIS[i + 1].slice(1), 16);
    var c = [16, 8, 0].map(function (sh) {
      var u = (a >> sh) & 255, v = (b >> sh) & 255;
      return Math.round(u + (v - u) * f);
    });
    return 'rgb(' + c.join(',') + ')';
  }
  var PALETTE = [];
  for (var q = 0; q < 256; ++q) PALETTE.push(viridis(q / 255));
  function logPos(v) {
    // Run times are whole seconds: the scale starts at 1 s.
    var lo = Math.log(Math.max(D.rtmin, 1)), hi = Math.log(Math.max(D.rtmax, 1));  // -1: none (not drawn)
    return hi > lo ? (Math.log(Math.max(v, 1)) - lo) / (hi - lo) : 0.5;
  }
  function utc(epoch, withDate, withSeconds) {
    var d = new Date(epoch * 1000).toISOString();
    return withDate ? d.slice(0, 16).replace('T', ' ') : d.slice(11, withSeconds ? 19 : 16);
  }
  function table(parent, heads, rows, badRow) {
    var t = html('table', null, parent), tr = html('tr', null, t);
    heads.forEach(function (h) { html('th', h, tr); });
    rows.forEach(function (r, k) {
      var row = html('tr', null, t);
      if (badRow && badRow(k)) row.className = 'bad';
      r.forEach(function (c) { html('td', c, row, typeof c === 'number' ? 'n' : null); });
    });
    return t;
  }

  // --- header ---
  var total = STATES.reduce(function (n, s) { return n + D.counts[s]; }, 0);
  html('h1', 'pdr_run report: model ' + D.model, root);
  var eta = D.series.eta_seconds;
  html('p', 'Generated ' + D.now + ' UTC from the job database; ' + total + ' jobs. ' +
    (D.refresh > 0 ? 'This page reloads every ' + D.refresh + ' s. ' : '') +
    'Rate ' + D.series.rate_per_hour.toFixed(1) + ' finished/hour' +
    (eta === 0 ? '; nothing left to run.' : eta === null ? '; time left unknown (nothing finished lately).'
      : '; about ' + dur(eta) + ' left at that rate.'), root, 'sub');
  var counts = html('p', null, root, 'counts');
  STATES.forEach(function (s) {
    if (s === 'skipped' || s === 'cancelled') { if (!D.counts[s]) return; }
    var span = html('span', null, counts);
    html('span', null, span, 'swatch').style.background = COLOR[s];
    span.appendChild(document.createTextNode(s + ' ' + D.counts[s]));
    span.id = 'count-' + s;
  });

  // --- maps ---
  var nx = D.x.labels.length, ny = D.y.labels.length;
  var cs = Math.max(3, Math.min(26, Math.floor(300 / Math.max(nx, ny, 1))));
  var left = 40, bottom = 30, top = 4;
  function point(p, i) {
    return D.x.name + ' ' + D.x.labels[i % nx] + ', ' + D.y.name + ' ' + D.y.labels[Math.floor(i / nx)] + ', ' +
      D.pa.name + ' ' + D.pa.labels[p.a] + ', ' + D.pb.name + ' ' + D.pb.labels[p.b];
  }
  function tip(p, i, state) {
    var t = point(p, i) + ': ';
    var m = p.m[i];
    if (m) {
      t += STATES.map(function (s, k) { return m[k] ? m[k] + ' ' + s : ''; }).filter(Boolean).join(', ');
    } else {
      t += state;
    }
    var rt = decode(p.rt, i), pr = decode(p.pr, i);
    if (rt >= 0) t += '; run time ' + dur(rt);
    if (pr >= 0) t += ' (predicted ' + dur(pr) + ')';
    if (p.f[i] !== undefined) {
      var g = D.failures[p.f[i]];
      t += '; failed job ' + p.n[i] + ' in ' + (g.stage || '?') + ': ' + g.cause;
    }
    return t;
  }
  // The axis labels of a map: [x, y, text, anchor, rotated].
  function labels() {
    var out = [], stepX = Math.max(1, Math.ceil(34 / cs)), stepY = Math.max(1, Math.ceil(14 / cs));
    for (var i = 0; i < nx; i += stepX) out.push([left + i * cs + cs / 2, top + ny * cs + 12, D.x.labels[i], 'middle', false]);
    for (var j = 0; j < ny; j += stepY) out.push([left - 4, top + (ny - 1 - j) * cs + cs / 2 + 3, D.y.labels[j], 'end', false]);
    out.push([left + nx * cs / 2, top + ny * cs + 26, D.x.name, 'middle', false]);
    out.push([10, top + ny * cs / 2, D.y.name, 'middle', true]);
    return out;
  }
  function esc(t) {
    return String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  var mapW = left + nx * cs + 4, mapH = top + ny * cs + bottom, side = cs - (cs > 4 ? 1 : 0);
  function cellX(i) { return left + (i % nx) * cs; }
  function cellY(i) { return top + (ny - 1 - Math.floor(i / nx)) * cs; }
  // Big grids draw each state of a panel as one path (a rect per cell is a DOM node per job: a
  // browser takes seconds per 10,000); failed cells stay rects, with their tooltips.
  var cellCount = 0;
  D.panels.forEach(function (p) { cellCount += p.s.replace(/\./g, '').length; });
  var compact = cellCount > 20000 || location.hash === '#compact';
  // One tooltip for the pointer over the maps (cells without a <title> of their own).
  var tipBox = html('div', null, document.body, 'tip');
  function pointTo(e, text) {
    tipBox.textContent = text;
    tipBox.style.display = text ? 'block' : 'none';
    tipBox.style.left = (e.pageX + 12) + 'px';
    tipBox.style.top = (e.pageY + 12) + 'px';
  }
  function cellAt(e, el) {
    var r = el.getBoundingClientRect();
    var xi = Math.floor((e.clientX - r.left - left) / cs), yi = ny - 1 - Math.floor((e.clientY - r.top - top) / cs);
    return xi >= 0 && xi < nx && yi >= 0 && yi < ny ? yi * nx + xi : -1;
  }
  function follow(el, p) {
    el.addEventListener('mousemove', function (e) {
      var i = cellAt(e, el), code = i >= 0 ? p.s.charAt(i) : '.';
      pointTo(e, code !== '.' && !(e.target.tagName === 'rect' && e.target.firstChild) ? tip(p, i, CODE[code]) : '');
    });
    el.addEventListener('mouseleave', function (e) { pointTo(e, ''); });
  }
  // States: one SVG rect per cell (in the DOM, for people and tests; a failed one carries its
  // tooltip), written as one string per panel; compact: one path per state.
  function stateMap(p, box) {
    var parts = [], paths = {}, counts = {};
    for (var i = 0; i < p.s.length; ++i) {
      var code = p.s.charAt(i);
      if (code === '.') continue;
      var state = CODE[code];
      if (compact && state !== 'failed') {
        paths[state] = (paths[state] || '') + 'M' + cellX(i) + ' ' + cellY(i) + 'h' + side + 'v' + side + 'h-' + side + 'z';
        counts[state] = (counts[state] || 0) + 1;
        continue;
      }
      parts.push('<rect class="cell" data-i="' + i + '" data-state="' + state + '" x="' + cellX(i) + '" y="' + cellY(i) +
        '" width="' + side + '" height="' + side + '" fill="' + COLOR[state] + '">' +
        (p.f[i] !== undefined ? '<title>' + esc(tip(p, i, state)) + '</title>' : '') + '</rect>');
    }
    Object.keys(paths).forEach(function (state) {
      parts.push('<path class="cells" data-state="' + state + '" data-cells="' + counts[state] + '" fill="' +
        COLOR[state] + '" d="' + paths[state] + '"></path>');
    });
    labels().forEach(function (l) {
      parts.push('<text x="' + l[0] + '" y="' + l[1] + '" text-anchor="' + l[3] + '"' +
        (l[4] ? ' transform="rotate(-90 ' + l[0] + ' ' + l[1] + ')"' : '') + '>' + esc(l[2]) + '</text>');
    });
    var s = svg('svg', { width: mapW, height: mapH, role: 'img' }, box);
    s.innerHTML = parts.join('');
    follow(s, p);
  }
  // Run times: drawn on a canvas (as many cells again, without their weight in the DOM).
  function runtimeMap(p, box) {
    var c = html('canvas', null, box);
    c.width = mapW;
    c.height = mapH;
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', 'run times over ' + D.x.name + ' and ' + D.y.name);
    var g = c.getContext('2d');
    for (var i = 0; i < p.s.length; ++i) {
      if (p.s.charAt(i) === '.') continue;
      var rt = decode(p.rt, i);
      g.fillStyle = rt >= 0 ? PALETTE[Math.round(logPos(rt) * 255)] : '#f2f2f2';
      g.fillRect(cellX(i), cellY(i), side, side);
    }
    g.fillStyle = '#555';
    g.font = '10px sans-serif';
    labels().forEach(function (l) {
      g.save();
      g.textAlign = l[3] === 'middle' ? 'center' : 'right';
      g.translate(l[0], l[1]);
      if (l[4]) g.rotate(-Math.PI / 2);
      g.fillText(l[2], 0, 0);
      g.restore();
    });
    follow(c, p);
  }
  function maps(kind, parent) {
    var wrap = html('div', null, parent, 'panels');
    wrap.id = kind + '-maps';
    D.panels.forEach(function (p) {
      var box = html('div', null, wrap, 'panel');
      html('h3', D.pa.name + ' ' + D.pa.labels[p.a] + ', ' + D.pb.name + ' ' + D.pb.labels[p.b], box);
      (kind === 'state' ? stateMap : runtimeMap)(p, box);
    });
  }
  html('h2', 'States over ' + D.x.name + ' and ' + D.y.name, root);
  var leg = html('p', 'One panel per ' + D.pa.name + ' and ' + D.pb.name + (D.x.binned || D.y.binned ? ' (values binned)' : '') +
    '; a cell with several jobs shows failed, then running, then pending. Hover over a cell for its point.', root, 'legend');
  leg.id = 'state-legend';
  maps('state', root);

  html('h2', 'Run times (claim to finish, finished jobs, log scale)', root);
  var rl = html('p', null, root, 'legend');
  if (D.rtmax >= 0) {
    rl.appendChild(document.createTextNode(dur(Math.max(D.rtmin, 1))));
    var grad = html('span', null, rl, 'gradient');
    grad.style.background = 'linear-gradient(to right,' + [0, 0.25, 0.5, 0.75, 1].map(viridis).join(',') + ')';
    rl.appendChild(document.createTextNode(dur(D.rtmax) + '; grey: no finished job.'));
    maps('runtime', root);
  } else {
    rl.textContent = 'No job has finished yet.';
  }

  // --- predicted vs actual ---
  if (D.pva.length) {
    html('h2', 'Predicted vs actual run time (' + D.pva.length + ' finished jobs with a prediction)', root);
    var ratios = D.pva.map(function (q) { return q[1] / q[0]; }).sort(function (a, b) { return a - b; });
    var within = ratios.filter(function (r) { return r >= 0.5 && r <= 2; }).length;
    html('p', 'Actual/predicted: median ' + ratios[Math.floor(ratios.length / 2)].toFixed(2) + ', within a factor 2 for ' +
      Math.round(100 * within / ratios.length) + ' %.', root, 'legend');
    var all = [];
    D.pva.forEach(function (q) { all.push(q[0], q[1]); });
    var lo = Math.log(Math.max(Math.min.apply(null, all), 0.1)), hi = Math.log(Math.max.apply(null, all));
    if (hi <= lo) hi = lo + 1;
    var W = 300, M = 40;
    var sc = svg('svg', { width: W + M + 10, height: W + M + 10, id: 'predicted-vs-actual' }, root);
    var pos = function (v) { return (Math.log(Math.max(v, 0.1)) - lo) / (hi - lo) * W; };
    svg('rect', { x: M, y: 5, width: W, height: W, fill: '#fff', stroke: '#ccc' }, sc);
    svg('line', { x1: M, y1: 5 + W, x2: M + W, y2: 5, stroke: '#999', 'stroke-dasharray': '4 3' }, sc);
    D.pva.forEach(function (q) {
      svg('circle', { cx: M + pos(q[0]), cy: 5 + W - pos(q[1]), r: 2.5, fill: '#0072B2', 'fill-opacity': 0.6 }, sc);
    });
    svg('text', { x: M + W / 2, y: W + 30, 'text-anchor': 'middle' }, sc).textContent =
      'predicted (' + dur(Math.exp(lo)) + ' to ' + dur(Math.exp(hi)) + ')';
    svg('text', { x: 12, y: 5 + W / 2, transform: 'rotate(-90 12 ' + (5 + W / 2) + ')', 'text-anchor': 'middle' }, sc).textContent = 'actual';
  }

  // --- progress ---
  html('h2', 'Progress', root);
  var S = D.series;
  if (S.finished.length) {
    var PW = 760, PH = 200, PL = 44, PB = 34, n = S.finished.length;
    var maxF = Math.max(1, Math.max.apply(null, S.finished)), maxR = Math.max(1, Math.max.apply(null, S.running));
    var pc = svg('svg', { width: PW + PL + 50, height: PH + PB + 10, id: 'progress' }, root);
    var bw = PW / n;
    svg('rect', { x: PL, y: 5, width: PW, height: PH, fill: '#fff', stroke: '#ddd' }, pc);
    S.finished.forEach(function (v, i) {
      if (!v) return;
      var h = v / maxF * PH;
      var bar = svg('rect', { x: PL + i * bw, y: 5 + PH - h, width: Math.max(1, bw - 1), height: h, fill: '#009E73', 'class': 'bar' }, pc);
      svg('title', {}, bar).textContent = utc(S.start_epoch + i * S.bucket_seconds, true) + ' UTC: ' + v + ' finished';
    });
    var pts = S.running.map(function (v, i) { return (PL + (i + 0.5) * bw) + ',' + (5 + PH - v / maxR * PH); });
    svg('polyline', { points: pts.join(' '), fill: 'none', stroke: '#0072B2', 'stroke-width': 2 }, pc);
    var ticks = Math.min(n, 8);
    for (var k = 0; k <= ticks; ++k) {
      var i = Math.round(k * n / ticks);
      svg('text', { x: PL + i * bw, y: PH + 20, 'text-anchor': 'middle' }, pc).textContent =
        utc(S.start_epoch + i * S.bucket_seconds, S.bucket_seconds >= 3600, S.bucket_seconds < 60);
    }
    svg('text', { x: PL - 4, y: 12, 'text-anchor': 'end' }, pc).textContent = maxF;
    svg('text', { x: PL + PW + 4, y: 12 }, pc).textContent = maxR.toFixed(1);
    html('p', 'Bars: jobs finished per ' + dur(S.bucket_seconds) + ' (left scale, up to ' + maxF + '); line: jobs running, on ' +
      'average over each ' + dur(S.bucket_seconds) + ' (right scale, up to ' + maxR.toFixed(1) + '); times UTC from ' + S.start + '.',
      root, 'note');
  } else {
    html('p', 'No job has started yet.', root, 'note');
  }

  // --- failures ---
  html('h2', 'Failures (' + D.counts.failed + ')', root);
  if (D.failures.length) {
    var ft = table(root, ['stage', 'cause', 'jobs', 'examples', 'region'], D.failures.map(function (g) {
      var region = Object.keys(g.region).map(function (a) {
        var r = g.region[a];
        return a + ' ' + (r[0] === r[1] ? r[0] : r[0] + '..' + r[1]);
      }).join(', ');
      return [g.stage || '?', g.cause, g.count, g.examples.join(', '), region];
    }));
    ft.id = 'failures';
  } else {
    html('p', 'No job failed.', root, 'note');
  }

  // --- hosts ---
  html('h2', 'Hosts', root);
  if (D.hosts.length) {
    // A host against all the others together: its failure share and its mean run time.
    var all = { finished: 0, failed: 0, rsum: 0, rn: 0 };
    D.hosts.forEach(function (h) {
      all.finished += h.finished; all.failed += h.failed;
      if (h.mean_runtime !== null) { all.rsum += h.mean_runtime * h.timed; all.rn += h.timed; }
    });
    var bad = function (k) {
      var h = D.hosts[k];
      if (D.hosts.length < 2) return false;
      var of = all.failed - h.failed, on = all.finished - h.finished + of;
      var share = h.failed / Math.max(1, h.finished + h.failed), others = of / Math.max(1, on);
      var rsum = all.rsum - (h.mean_runtime !== null ? h.mean_runtime * h.timed : 0), rn = all.rn - h.timed;
      return (h.failed >= 2 && share > 2 * others) ||
        (h.mean_runtime !== null && rn > 0 && h.timed >= 3 && h.mean_runtime > 2 * rsum / rn);
    };
    var ht = table(root, ['host', 'finished', 'failed', 'running', 'mean run time'], D.hosts.map(function (h) {
      return [h.host, h.finished, h.failed, h.running, h.mean_runtime === null ? '' : dur(h.mean_runtime)];
    }), bad);
    ht.id = 'hosts';
    html('p', 'A highlighted host fails more than twice as often as the others, or runs jobs more than twice as long.', root, 'note');
  } else {
    html('p', 'No job has run yet.', root, 'note');
  }

  // --- runs ---
  html('h2', 'Runs (the latest ' + D.runs.length + ')', root);
  if (D.runs.length) {
    table(root, ['host', 'pid', 'workers', 'state', 'started (UTC)', 'last update', 'connections open/in use',
      'created', 'validated', 'replaced', 'failed'], D.runs.map(function (r) {
      return [r.host, r.pid, r.workers, r.shown || r.state, r.started_at, r.updated_at, r.pool.open + '/' + r.pool.in_use,
        r.pool.created, r.pool.validated, r.pool.replaced, r.pool.failed];
    })).id = 'runs';
  } else {
    html('p', 'No run recorded.', root, 'note');
  }
  // For tests and the curious: how many resources the page fetched (none: it loads nothing).
  document.body.setAttribute('data-resources', String(performance.getEntriesByType('resource').length));
  document.body.setAttribute('data-drawn', 'yes');
})();
