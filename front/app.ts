// The dashboard page (bundled by lib/serve with ECharts; served only with the token). The catalogue by
// subsystem with a form per tool built from its own option metadata; each run in a panel whose view
// follows the records' kind (docs/json.md): histograms as a heat map over time beside the latest
// histogram, events as a live table, top as a sortable table, counts as bars, stacks as a flame graph.
import { BarChart, HeatmapChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([HeatmapChart, BarChart, GridComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

interface ToolOption { key: string; alias?: string | string[]; type: string; describe: string; default?: unknown }
interface Tool { name: string; subsystem: string; description: string; output: string | string[]; positional: string; runs_here: string; examples: [string, string][]; options: ToolOption[] }
interface Batch { run: string; total: number; lost: number; rate: number; missed: number; records: any[]; replay?: boolean; before?: number }

const token = document.querySelector<HTMLMetaElement>('meta[name="bpfkit-token"]')!.content;
const subsystemOrder = ['cpu', 'sched', 'mem', 'disk', 'fs', 'net', 'lang', 'app', 'kernel', 'sec'];
let viewer = '';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

async function post(path: string, body: unknown): Promise<any> {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(data.error ?? `HTTP ${r.status}`);
  return data;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`);
const hms = (iso: string) => (iso ?? '').slice(11, 19);

// ---- views, one per record kind -------------------------------------------------------------------

interface View { add(records: any[]): void; dispose(): void }

/** log2/linear histograms: a heat map (x: interval, y: bucket, colour: count) and the latest as bars. */
class HistogramView implements View {
  private readonly heat: echarts.ECharts;
  private readonly latest: echarts.ECharts;
  private readonly times: string[] = [];
  private readonly columns: Map<string, number>[] = [];
  private readonly labels: string[] = [];
  private section = '';
  private readonly select = el('select', { 'aria-label': 'section' });
  private readonly records: any[] = [];
  readonly maxIntervals = 120;

  constructor(root: HTMLElement) {
    const heatDiv = el('div', { class: 'chart heat' });
    const barDiv = el('div', { class: 'chart bars' });
    this.select.hidden = true;
    this.select.onchange = () => this.rebuild();
    root.append(this.select, el('div', { class: 'charts' }, heatDiv, barDiv));
    this.heat = echarts.init(heatDiv);
    this.latest = echarts.init(barDiv);
  }

  private bucketsOf(r: any): { label: string; count: number }[] {
    let buckets = r.buckets;
    if (r.sections) {
      for (const s of r.sections) if (![...this.select.options].some(o => o.value === String(s.key))) this.select.append(el('option', { value: String(s.key) }, `${r.section_by} ${s.key}`));
      if (!this.select.options.length) this.select.append(el('option', { value: '' }, 'all'));
      this.select.hidden = false;
      const key = this.select.value || String(r.sections[0]?.key ?? '');
      buckets = r.sections.find((s: any) => String(s.key) === key)?.buckets ?? [];
    }
    return (buckets ?? []).map((b: any) => ({ label: b.start === b.end ? String(b.start) : `${b.start}-${b.end}`, count: b.count }));
  }

  add(records: any[]): void {
    for (const r of records) if (r.kind === 'histogram') this.records.push(r);
    if (this.records.length > this.maxIntervals) this.records.splice(0, this.records.length - this.maxIntervals);
    this.rebuild();
  }

  private rebuild(): void {
    this.times.length = 0;
    this.columns.length = 0;
    this.labels.length = 0;
    for (const r of this.records) {
      const col = new Map<string, number>();
      for (const b of this.bucketsOf(r)) {
        if (!this.labels.includes(b.label)) this.labels.push(b.label);
        col.set(b.label, b.count);
      }
      this.times.push(hms(r.time));
      this.columns.push(col);
    }
    const order = (l: string) => Number(l.split('-')[0]);
    this.labels.sort((a, b) => order(a) - order(b));
    const cells: [number, number, number][] = [];
    let max = 1;
    this.columns.forEach((col, x) => this.labels.forEach((l, y) => {
      const v = col.get(l) ?? 0;
      if (v > 0) cells.push([x, y, v]);
      max = Math.max(max, v);
    }));
    const valType = this.records.at(-1)?.val_type ?? '';
    this.heat.setOption({
      animation: false, tooltip: { position: 'top' }, grid: { left: 90, right: 20, top: 10, bottom: 60 },
      xAxis: { type: 'category', data: this.times }, yAxis: { type: 'category', data: this.labels, name: valType },
      visualMap: { min: 0, max, calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120, inRange: { color: ['#fff7ec', '#fdbb84', '#d7301f', '#7f0000'] } },
      series: [{ type: 'heatmap', data: cells, progressive: 0 }],
    }, { notMerge: true });
    const last = this.columns.at(-1) ?? new Map();
    this.latest.setOption({
      animation: false, grid: { left: 90, right: 20, top: 10, bottom: 30 }, tooltip: {},
      xAxis: { type: 'value' }, yAxis: { type: 'category', data: this.labels },
      series: [{ type: 'bar', data: this.labels.map(l => last.get(l) ?? 0), itemStyle: { color: '#d7301f' } }],
    }, { notMerge: true });
    this.cells = cells.length;
  }

  /** Heat-map cells with a count (the tests read it beside the pixels). */
  cells = 0;

  dispose(): void {
    this.heat.dispose();
    this.latest.dispose();
  }
}

/** Events: a live table with a filter box and pause; the newest on top, the last `keep` in the page. */
class EventView implements View {
  private readonly table = el('table');
  private readonly body = el('tbody');
  private readonly filter = el('input', { type: 'search', placeholder: 'filter', 'aria-label': 'filter' });
  private readonly pause = el('button', { type: 'button' }, 'Pause');
  private readonly shown = el('span', { class: 'shown' });
  private columns: string[] = [];
  private rows: any[] = [];
  private paused = false;
  private dirty = false;
  readonly keep = 500;
  /** Events received by this page (all of them, paused or filtered out or not). */
  received = 0;

  constructor(root: HTMLElement) {
    this.pause.onclick = () => {
      this.paused = !this.paused;
      this.pause.textContent = this.paused ? 'Resume' : 'Pause';
      this.schedule();
    };
    this.filter.oninput = () => this.schedule();
    this.table.append(el('thead'), this.body);
    root.append(el('div', { class: 'toolbar' }, this.filter, this.pause, this.shown), el('div', { class: 'scroll' }, this.table));
  }

  add(records: any[]): void {
    const events = records.filter(r => r.kind === 'event');
    if (!events.length) return;
    this.received += events.length;
    if (!this.columns.length) {
      this.columns = Object.keys(events[0]).filter(k => k !== 'tool' && k !== 'kind' && k !== 'ts_ns');
      this.table.tHead!.replaceChildren(el('tr', {}, ...this.columns.map(c => el('th', {}, c))));
    }
    this.rows.push(...events);
    if (this.rows.length > this.keep) this.rows.splice(0, this.rows.length - this.keep);
    this.schedule();
  }

  private schedule(): void {
    if (this.dirty) return;
    this.dirty = true;
    // rendering coalesced to one per frame, however fast records come
    requestAnimationFrame(() => {
      this.dirty = false;
      if (!this.paused) this.render();
      this.shown.textContent = `${this.received} events${this.paused ? ' (paused)' : ''}`;
    });
  }

  private render(): void {
    const f = this.filter.value.toLowerCase();
    const rows = this.rows.filter(r => !f || this.columns.some(c => String(r[c] ?? '').toLowerCase().includes(f))).slice(-200).reverse();
    this.body.replaceChildren(...rows.map(r => el('tr', {}, ...this.columns.map(c => el('td', {}, c === 'time' ? hms(r[c]) : formatValue(r[c]))))));
  }

  dispose(): void {}
}

const formatValue = (v: unknown) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v));

/** top: the latest refresh as a table, sorted by the tool's column or the one clicked. */
class TopView implements View {
  private readonly table = el('table');
  private sortBy = '';
  private descending = true;
  private last: any;

  constructor(root: HTMLElement) {
    root.append(el('div', { class: 'scroll' }, this.table));
  }

  add(records: any[]): void {
    const r = records.filter(x => x.kind === 'top').at(-1);
    if (!r) return;
    this.last = r;
    this.sortBy ||= r.sort_by;
    this.render();
  }

  private render(): void {
    const rows = [...(this.last.rows as any[])];
    const cols = rows.length ? Object.keys(rows[0]) : [];
    const key = this.sortBy;
    rows.sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0) * (this.descending ? -1 : 1));
    const head = el('tr', {}, ...cols.map(c => {
      const th = el('th', { class: c === key ? 'sorted' : '' }, c + (c === key ? (this.descending ? ' ▼' : ' ▲') : ''));
      th.onclick = () => {
        this.descending = c === this.sortBy ? !this.descending : true;
        this.sortBy = c;
        this.render();
      };
      return th;
    }));
    this.table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows.map(r => el('tr', {}, ...cols.map(c => el('td', {}, formatValue(r[c])))))));
  }

  dispose(): void {}
}

/** counts: the latest interval's rows as bars (one numeric column, chosen). */
class CountsView implements View {
  private readonly chart: echarts.ECharts;
  private readonly select = el('select', { 'aria-label': 'column' });
  private last: any;

  constructor(root: HTMLElement) {
    const div = el('div', { class: 'chart counts' });
    this.select.onchange = () => this.render();
    root.append(this.select, div);
    this.chart = echarts.init(div);
  }

  add(records: any[]): void {
    const r = records.filter(x => x.kind === 'counts').at(-1);
    if (!r) return;
    this.last = r;
    const numeric = Object.keys(r.rows[0] ?? {}).filter(k => r.rows.some((row: any) => typeof row[k] === 'number'));
    for (const k of numeric) if (![...this.select.options].some(o => o.value === k)) this.select.append(el('option', { value: k }, k));
    this.render();
  }

  private render(): void {
    const rows: any[] = this.last.rows;
    const field = this.select.value;
    const name = (row: any) => Object.entries(row).filter(([k, v]) => k !== field && typeof v === 'string').map(([, v]) => v).join(' ') ||
      Object.entries(row).filter(([k]) => k !== field).map(([k, v]) => `${k} ${v}`).join(' ') || field;
    const sorted = rows.slice().sort((a, b) => (b[field] ?? 0) - (a[field] ?? 0)).slice(0, 30);
    this.chart.setOption({
      animation: false, grid: { left: 140, right: 20, top: 10, bottom: 30 }, tooltip: {},
      xAxis: { type: 'value' }, yAxis: { type: 'category', data: sorted.map(name).reverse() },
      series: [{ type: 'bar', data: sorted.map(r => r[field] ?? 0).reverse(), itemStyle: { color: '#3b6ea5' } }],
    }, { notMerge: true });
  }

  dispose(): void {
    this.chart.dispose();
  }
}

/** stacks: the flame graph SVG (bpfkit's own: zoom, search), served beside the page, in a frame of its own. */
class StacksView implements View {
  readonly frame = el('iframe', { class: 'flamegraph', title: 'flame graph' });

  constructor(root: HTMLElement) {
    root.append(this.frame);
  }

  add(records: any[]): void {
    const r = records.filter(x => x.kind === 'stacks' && x.flamegraph).at(-1);
    if (r) this.frame.src = `${r.flamegraph}?token=${token}`;
  }

  dispose(): void {}
}

const views: Record<string, new (root: HTMLElement) => View> = { histogram: HistogramView, event: EventView, top: TopView, counts: CountsView, stacks: StacksView };

// ---- panels ---------------------------------------------------------------------------------------

class Panel {
  readonly root = el('article', { class: 'panel' });
  private readonly stats = el('span', { class: 'stats' });
  private readonly message = el('p', { class: 'message' });
  private readonly body = el('div', { class: 'body' });
  private readonly stopButton = el('button', { type: 'button' }, 'Stop');
  view?: View;
  kind = '';
  run = '';
  ended = false;

  constructor(readonly tool: Tool, readonly args: string[]) {
    const close = el('button', { type: 'button', 'aria-label': 'close' }, '✕');
    close.onclick = () => this.close();
    this.stopButton.onclick = () => void post('/api/stop', { viewer, run: this.run }).catch(e => this.say(e.message));
    this.root.append(el('header', {}, el('h2', {}, [tool.name, ...args].join(' ')), this.stats, this.stopButton, close), this.message, this.body);
    document.getElementById('panels')!.prepend(this.root);
  }

  async start(): Promise<void> {
    try {
      const r = await post('/api/run', { viewer, tool: this.tool.name, args: this.args });
      this.run = r.run;
      panels.set(this.run, this);
      this.root.dataset.run = this.run;
      // what the stream brought before the run's id was known here
      for (const [event, data] of early.get(this.run) ?? []) event === 'records' ? this.records(data) : this.exit(data);
      early.delete(this.run);
    } catch (e) {
      this.fail((e as Error).message);
    }
  }

  say(text: string): void {
    this.message.textContent = text;
  }

  fail(text: string): void {
    this.say(text);
    this.root.classList.add('failed');
    this.stopButton.disabled = true;
    this.ended = true;
  }

  /**
   * Records this page received, batches' records the server could not deliver to it, records the run
   * had before this page joined (beyond those replayed to it), and the run's total: the first three add up to it.
   */
  received = 0;
  missed = 0;
  before = 0;
  total = 0;

  records(b: Batch): void {
    this.received += b.records.length;
    if (b.replay) this.before = b.before ?? 0;
    this.missed = b.missed;
    this.total = b.total;
    for (const r of b.records) {
      if (!this.view && views[r.kind]) {
        this.kind = r.kind;
        this.view = new views[r.kind]!(this.body);
        this.root.dataset.kind = r.kind;
      }
    }
    this.view?.add(b.records);
    const rate = b.replay ? '' : ` · ${b.rate.toFixed(1)}/s`;
    this.stats.textContent = `${b.total} records${rate} · lost ${b.lost}${b.missed ? ` · ${b.missed} not delivered to this page` : ''}`;
    this.root.dataset.total = String(b.total);
  }

  exit(e: { code: number | null; message: string }): void {
    this.ended = true;
    this.stopButton.disabled = true;
    this.root.classList.add('ended');
    if (e.code !== 0 && e.code !== null && e.message) this.fail(e.message);
    else this.say(e.message && e.code ? e.message : 'ended');
  }

  close(): void {
    if (this.run) void post('/api/close', { viewer, run: this.run }).catch(() => {});
    this.view?.dispose();
    panels.delete(this.run);
    this.root.remove();
  }
}

const panels = new Map<string, Panel>();
const early = new Map<string, [string, any][]>();
function deliver(event: string, data: any): void {
  const p = panels.get(data.run);
  if (p) event === 'records' ? p.records(data) : p.exit(data);
  else early.set(data.run, [...(early.get(data.run) ?? []), [event, data]]);
}
(window as any).bpfkit = { panels };

// ---- the catalogue and the option form ------------------------------------------------------------

function form(tool: Tool): HTMLFormElement {
  const f = el('form', { class: 'tool-form', 'data-tool': tool.name });
  const inputs: [ToolOption, HTMLInputElement][] = [];
  for (const o of tool.options) {
    const short = [o.alias].flat().filter((a): a is string => !!a && a.length === 1)[0];
    const label = short ? `-${short}, --${kebab(o.key)}` : `--${kebab(o.key)}`;
    const input = el('input', o.type === 'boolean' ? { type: 'checkbox', name: o.key } : { type: 'text', name: o.key, placeholder: o.default !== undefined ? String(o.default) : '' });
    inputs.push([o, input]);
    f.append(el('label', { title: o.describe }, input, ` ${label}`, el('small', {}, ` ${o.describe}`)));
  }
  const positional = el('input', { type: 'text', name: '_positional', placeholder: tool.positional });
  // interval tools start with 1 s intervals: a heat map wants many columns
  if (tool.positional.startsWith('[interval]')) positional.value = '1';
  if (tool.positional) f.append(el('label', {}, `${tool.positional} `, positional));
  f.append(el('button', { type: 'submit' }, 'Run'));
  f.onsubmit = ev => {
    ev.preventDefault();
    const args: string[] = [];
    for (const [o, input] of inputs) {
      if (o.type === 'boolean') {
        if (input.checked) args.push(`--${kebab(o.key)}`);
      } else if (o.type === 'count') {
        const n = Number(input.value || 0);
        for (let i = 0; i < n; i++) args.push(`--${kebab(o.key)}`);
      } else if (input.value.trim() !== '') {
        args.push(`--${kebab(o.key)}`, input.value.trim());
      }
    }
    args.push(...positional.value.trim().split(/\s+/).filter(Boolean));
    void new Panel(tool, args).start();
  };
  return f;
}

async function main(): Promise<void> {
  const r = await fetch('/api/catalogue', { headers: { authorization: `Bearer ${token}` } });
  const tools: Tool[] = await r.json();
  const nav = document.getElementById('catalogue')!;
  const rank = (s: string) => (subsystemOrder.includes(s) ? subsystemOrder.indexOf(s) : subsystemOrder.length);
  const subsystems = [...new Set(tools.map(t => t.subsystem))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const sub of subsystems) {
    const list = el('ul');
    for (const t of tools.filter(x => x.subsystem === sub)) {
      const runs = t.runs_here.startsWith('yes');
      const item = el('li', { class: runs ? 'runs' : 'cannot', 'data-tool': t.name, title: t.runs_here });
      const open = el('button', { type: 'button', class: 'tool' }, t.name);
      const details = el('div', { class: 'details' }, el('p', {}, t.description), el('p', { class: 'runs-here' }, `runs here: ${t.runs_here}`));
      details.hidden = true;
      open.onclick = () => {
        if (!details.querySelector('form')) details.append(form(t));
        details.hidden = !details.hidden;
      };
      item.append(open, details);
      list.append(item);
    }
    nav.append(el('details', { open: '' }, el('summary', {}, `${sub} (${tools.filter(x => x.subsystem === sub).length})`), list));
  }
  const stream = new EventSource(`/api/stream?token=${token}`);
  const status = document.getElementById('status')!;
  stream.addEventListener('hello', e => {
    viewer = JSON.parse((e as MessageEvent).data).viewer;
    status.textContent = 'connected';
    document.body.dataset.ready = '1';
  });
  stream.addEventListener('records', e => deliver('records', JSON.parse((e as MessageEvent).data)));
  stream.addEventListener('exit', e => deliver('exit', JSON.parse((e as MessageEvent).data)));
  stream.onerror = () => (status.textContent = 'disconnected');
}

void main();
