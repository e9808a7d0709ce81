// Flame graphs written by bpfkit itself: folded stacks ("a;b;c 12" lines, as BCC's -f prints them) ->
// one interactive SVG: widths are counts, click to zoom, search with highlight and the matched share,
// a tooltip and a details line per frame. Frames are coloured by kind from BCC's -a annotations
// (_[k] kernel, _[j] JIT, _[i] inlined; others user); off-CPU graphs get their own palette.

export interface FlameGraphOptions {
  title?: string;
  /** What a count is: "samples" (profile), "us" (off-CPU time), "calls" (stackcount). */
  countName?: string;
  /** "cpu" (warm colours by frame kind) or "off-cpu" (blues). */
  palette?: 'cpu' | 'off-cpu';
  width?: number;
  frameHeight?: number;
  /** Frames narrower than this many pixels are left out (their counts stay in their parents). */
  minWidth?: number;
}

interface Frame { name: string; value: number; children: Map<string, Frame> }

/** Folded stacks ("frame;frame;frame count" per line) -> [frames, count]; bad lines are skipped. */
export function parseFolded(text: string): [string[], number][] {
  const out: [string[], number][] = [];
  for (const line of text.split('\n')) {
    const m = /^(.*\S)\s+(\d+(?:\.\d+)?)\s*$/.exec(line);
    if (m) out.push([m[1].split(';'), Number(m[2])]);
  }
  return out;
}

function buildTree(stacks: Iterable<[string[], number]>): Frame {
  const root: Frame = { name: 'all', value: 0, children: new Map() };
  for (const [frames, count] of stacks) {
    if (!(count > 0)) continue;
    root.value += count;
    let node = root;
    for (const name of frames) {
      let child = node.children.get(name);
      if (!child) node.children.set(name, (child = { name, value: 0, children: new Map() }));
      child.value += count;
      node = child;
    }
  }
  return root;
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A stable number in [0, 1) from a name, so a function keeps its shade across graphs. */
function shade(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}

export type FrameKind = 'kernel' | 'user' | 'jit' | 'inlined';

export function frameKind(name: string): FrameKind {
  if (name.endsWith('_[k]')) return 'kernel';
  if (name.endsWith('_[j]')) return 'jit';
  if (name.endsWith('_[i]')) return 'inlined';
  return 'user';
}

function colour(name: string, palette: 'cpu' | 'off-cpu'): string {
  const v = shade(name);
  if (palette === 'off-cpu') return `rgb(${Math.round(50 + 60 * v)},${Math.round(90 + 80 * v)},${Math.round(190 + 60 * v)})`;
  switch (frameKind(name)) {
    case 'kernel': return `rgb(${Math.round(205 + 50 * v)},${Math.round(120 + 60 * v)},${Math.round(30 + 30 * v)})`;
    case 'jit': return `rgb(${Math.round(60 + 50 * v)},${Math.round(170 + 60 * v)},${Math.round(60 + 40 * v)})`;
    case 'inlined': return `rgb(${Math.round(80 + 40 * v)},${Math.round(190 + 40 * v)},${Math.round(190 + 40 * v)})`;
    default: return `rgb(${Math.round(225 + 30 * v)},${Math.round(60 + 120 * v)},${Math.round(40 + 30 * v)})`;
  }
}

// The page's behaviour: zoom, search, details. Frames carry their position in count units (data-x,
// data-v) and depth (data-d), so zooming only rescales.
const script = `
var W, total, frames, zoomed = null, details, matched, unzoomBtn;
function init() {
  var svg = document.documentElement;
  W = +svg.getAttribute('data-width'); total = +svg.getAttribute('data-total');
  frames = Array.prototype.slice.call(document.querySelectorAll('g.frame'));
  details = document.getElementById('details'); matched = document.getElementById('matched');
  unzoomBtn = document.getElementById('unzoom');
  frames.forEach(function (g) {
    g.addEventListener('click', function () { zoom(g); });
    g.addEventListener('mouseover', function () { details.textContent = g.querySelector('title').textContent; });
    g.addEventListener('mouseout', function () { details.textContent = ' '; });
  });
  document.getElementById('search').addEventListener('click', function () {
    var term = prompt('Search (a regular expression):', '');
    if (term !== null) search(term);
  });
  unzoomBtn.addEventListener('click', function () { zoom(null); });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); document.getElementById('search').dispatchEvent(new Event('click')); }
  });
  layout();
}
function num(g, k) { return +g.getAttribute('data-' + k); }
function layout() {
  var x0 = zoomed ? num(zoomed, 'x') : 0, v0 = zoomed ? num(zoomed, 'v') : total, d0 = zoomed ? num(zoomed, 'd') : 0;
  var scale = (W - 20) / v0;
  frames.forEach(function (g) {
    var x = num(g, 'x'), v = num(g, 'v'), d = num(g, 'd');
    var inside = x >= x0 && x + v <= x0 + v0 && d >= d0;
    var below = d < d0 && x <= x0 && x + v >= x0 + v0;
    var w = inside ? v * scale : below ? W - 20 : 0;
    if (w < 0.1) { g.style.display = 'none'; return; }
    g.style.display = '';
    g.style.opacity = below ? 0.5 : 1;
    var left = 10 + (inside ? (x - x0) * scale : 0);
    var r = g.querySelector('rect'), t = g.querySelector('text');
    r.setAttribute('x', left); r.setAttribute('width', w);
    t.setAttribute('x', left + 3);
    var name = g.getAttribute('data-name'), fit = Math.floor((w - 6) / 7);
    t.textContent = fit < 3 ? '' : name.length <= fit ? name : name.slice(0, fit - 2) + '..';
  });
  unzoomBtn.style.display = zoomed ? '' : 'none';
}
function zoom(g) { zoomed = g; layout(); }
/** Highlights frames whose name matches; returns the share of all counts under them (each count once). */
function search(term) {
  var re; try { re = new RegExp(term); } catch (e) { return 0; }
  var spans = [];
  frames.forEach(function (g) {
    var hit = term !== '' && re.test(g.getAttribute('data-name'));
    g.querySelector('rect').setAttribute('fill', hit ? 'rgb(230,0,230)' : g.getAttribute('data-fill'));
    if (hit) spans.push([num(g, 'x'), num(g, 'x') + num(g, 'v')]);
  });
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;
  spans.forEach(function (s) {
    if (s[1] <= end) return;
    covered += s[1] - Math.max(s[0], end); end = s[1];
  });
  var share = total ? covered / total : 0;
  matched.textContent = term === '' ? ' ' : 'Matched: ' + (100 * share).toFixed(1) + '%';
  return share;
}
window.bpfkitFlameGraph = { search: search, zoom: zoom };
`;

/** An interactive SVG flame graph of these stacks (root at the bottom, callees above their callers). */
export function renderFlameGraph(stacks: Iterable<[string[], number]>, opts: FlameGraphOptions = {}): string {
  const { title = 'Flame Graph', countName = 'samples', palette = 'cpu', width = 1200, frameHeight = 16, minWidth = 0.1 } = opts;
  const root = buildTree(stacks);
  const scale = root.value ? (width - 20) / root.value : 0;
  // every frame wide enough to draw, with its depth and its offset in counts
  const placed: { f: Frame; depth: number; x: number }[] = [];
  const place = (f: Frame, depth: number, x: number) => {
    if (f.value * scale < minWidth) return;
    placed.push({ f, depth, x });
    for (const child of [...f.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      place(child, depth + 1, x);
      x += child.value;
    }
  };
  place(root, 0, 0);
  const maxDepth = Math.max(0, ...placed.map(p => p.depth));
  const height = (maxDepth + 1) * frameHeight + 70;
  const amount = (v: number) => `${Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2)} ${countName}`;
  const body = placed.map(({ f, depth, x }) => {
    const fill = depth === 0 ? 'rgb(200,200,200)' : colour(f.name, palette);
    const pct = root.value ? ((100 * f.value) / root.value).toFixed(2) : '0';
    const y = height - 30 - (depth + 1) * frameHeight;
    return `<g class="frame" data-name="${escapeXml(f.name)}" data-x="${x}" data-v="${f.value}" data-d="${depth}" data-fill="${fill}">` +
      `<title>${escapeXml(`${f.name} (${amount(f.value)}, ${pct}%)`)}</title>` +
      `<rect x="${(10 + x * scale).toFixed(2)}" y="${y}" width="${(f.value * scale).toFixed(2)}" height="${frameHeight - 1}" fill="${fill}" rx="2"/>` +
      `<text x="${(13 + x * scale).toFixed(2)}" y="${y + frameHeight - 5}"></text></g>`;
  });
  return `<?xml version="1.0" standalone="no"?>
<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-width="${width}" data-total="${root.value}" onload="init()">
<style>
  text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }
  #title { font-size: 17px; text-anchor: middle; }
  #search, #unzoom { cursor: pointer; }
  g.frame { cursor: pointer; }
  g.frame:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
</style>
<script type="text/ecmascript"><![CDATA[${script}]]></script>
<rect x="0" y="0" width="${width}" height="${height}" fill="${palette === 'off-cpu' ? 'rgb(235,240,250)' : 'rgb(250,245,235)'}"/>
<text id="title" x="${width / 2}" y="24">${escapeXml(title)}</text>
<text id="unzoom" x="10" y="24" style="display:none">Reset Zoom</text>
<text id="search" x="${width - 110}" y="24">Search</text>
<text id="matched" x="${width - 110}" y="${height - 10}"> </text>
<text id="details" x="10" y="${height - 10}"> </text>
<g id="frames">
${body.join('\n')}
</g>
</svg>
`;
}
