// One picture of `npm run bench`: sesame against the other inits, from the JSON that
// bench/run.mjs writes, as a plain SVG file (no browser, no library).
//
//   node bench/chart.mjs RESULTS.json OUT.svg
//
// Four panels, one per measurement, each a bar per init (median of the run); shorter is
// better in all four. The numbers are printed on the bars, so the picture stands alone.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node bench/chart.mjs RESULTS.json OUT.svg');
  process.exit(2);
}
const results = JSON.parse(readFileSync(input, 'utf8'));

const median = (xs) => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** "sesame", "tini", ... from a command line (the first word that is not a path to node). */
function initName(argv) {
  const first = basename(argv[0]);
  if (first === 'init') return 'sesame';
  if (first === 'node') return 'node -e 0';
  if (first === 'true') return '/bin/true';
  return first;
}

const panels = [];
if (results.startup?.length) {
  panels.push({
    title: 'Start-up, not PID 1: fork to exit of `X -- /bin/true`',
    unit: 'ms',
    rows: results.startup.map((e) => ({ name: initName(e.command), value: median(e.wallNs) / 1e6 }))
      .filter((r) => r.name !== '/bin/true'),
  });
}
if (results.idle?.length) {
  panels.push({
    title: 'Private memory of an idle PID 1 (RssAnon + RssShmem)',
    unit: 'MiB',
    rows: results.idle.map((e) => ({
      name: initName(e.command),
      value: median((e.samples ?? []).map((s) => (s.rssAnonKb + (s.rssShmemKb ?? 0)) / 1024)),
    })),
  });
}
if (results.signals?.length) {
  panels.push({
    title: 'Signal forwarding as PID 1: sent to init, received by the child',
    unit: 'µs',
    rows: results.signals.map((e) => ({ name: e.peer, value: median(e.latencyNs ?? []) / 1e3 })),
  });
}
if (results.orphans?.length) {
  panels.push({
    title: `Reaping ${results.orphans[0].orphans.toLocaleString('en')} orphans as PID 1`,
    unit: 'ms',
    rows: results.orphans.map((e) => ({ name: e.peer, value: median(e.reapUs ?? []) / 1e3 })),
  });
}
if (!panels.length) {
  console.error(`${input}: no startup, idle, signals or orphans results to draw`);
  process.exit(1);
}

// Layout, in px.
const W = 760;
const LABEL = 120; // names column
const BAR_H = 18;
const GAP = 6;
const PANEL_HEAD = 28;
const PANEL_GAP = 18;
const MARGIN = 16;
const plotW = W - 2 * MARGIN - LABEL - 90; // room for the value text after the longest bar

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (!Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const colour = (name) => (name === 'sesame' ? '#1f6feb' : name.startsWith('node') ? '#8c959f' : '#d0d7de');

const parts = [];
let y = MARGIN + 22;
const when = results.date ? results.date.slice(0, 10) : '';
parts.push(`<text x="${MARGIN}" y="${MARGIN + 6}" class="h1">sesame and other inits, one run of npm run bench${when ? ` (${when})` : ''}: shorter is better</text>`);
for (const panel of panels) {
  const max = Math.max(...panel.rows.map((r) => (Number.isFinite(r.value) ? r.value : 0)), 1e-9);
  parts.push(`<text x="${MARGIN}" y="${y + 16}" class="h2">${esc(panel.title)} (median, ${panel.unit})</text>`);
  y += PANEL_HEAD;
  for (const row of panel.rows) {
    const w = Number.isFinite(row.value) ? Math.max(1, (row.value / max) * plotW) : 0;
    const x0 = MARGIN + LABEL;
    parts.push(`<text x="${x0 - 8}" y="${y + BAR_H - 5}" class="name" text-anchor="end">${esc(row.name)}</text>`);
    parts.push(`<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${colour(row.name)}"/>`);
    parts.push(`<text x="${(x0 + w + 6).toFixed(1)}" y="${y + BAR_H - 5}" class="value">${fmt(row.value)} ${panel.unit}</text>`);
    y += BAR_H + GAP;
  }
  y += PANEL_GAP;
}
const machine = results.machine ? `${results.machine.cpus} cores, ${results.machine.cpuModel ?? ''}, Linux ${results.machine.kernel ?? ''}` : '';
parts.push(`<text x="${MARGIN}" y="${y}" class="note">${esc(machine)}; ${esc(results.command ?? '')}${results.quick ? ' (quick)' : ''}</text>`);
const H = y + MARGIN;

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">
<style>
text { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill: #1f2328; }
.h1 { font-size: 15px; font-weight: 600; }
.h2 { font-size: 13px; font-weight: 600; }
.name, .value { font-size: 12px; }
.note { font-size: 11px; fill: #59636e; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`;
writeFileSync(output, svg);
console.error(`bench: chart written to ${output}`);
