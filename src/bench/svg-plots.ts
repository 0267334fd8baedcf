import { maxOf, minOf, percentile } from './stats.js';

/** Plain SVG, written by hand: no plotting dependency, readable in any browser and on GitHub. */

export interface TimelinePanel {
  title: string;
  fromMs: number;
  toMs: number;
  points: { atMs: number; latencyMs: number }[];
  faults: { injectedMs: number; recoveredMs: number | null }[];
}

export interface CdfSeries {
  label: string;
  latencies: number[];
  dashed?: boolean;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const FONT_SIZE = 11;
const FONT = `font-family="sans-serif" font-size="${FONT_SIZE}"`;
const LINE_HEIGHT = 14;

/**
 * The width `text` takes in the plots' font, estimated high: a viewer picks its
 * own sans-serif, and DejaVu Sans, the widest common one, draws lower case at
 * about 0.6 em, capitals near 0.75 and m or w near 1.
 */
export function textWidth(text: string, bold = false): number {
  let em = 0;
  for (const c of text) {
    if (/[mwMW@%]/.test(c)) em += 1;
    else if (/[A-Z]/.test(c)) em += 0.8;
    else if (/[ijl.,:;'|! ]/.test(c)) em += 0.42;
    else em += 0.66;
  }
  return em * FONT_SIZE * (bold ? 1.1 : 1);
}

/** `text` broken at spaces into lines each at most `maxWidth` wide (a single longer word stays whole). */
export function wrapText(text: string, maxWidth: number, bold = false): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, bold) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  return [...lines, line];
}

/** Lines of text from (x, y) down, one <text> each. */
function textLines(lines: string[], x: number, y: number, attributes = FONT): string[] {
  return lines.map((l, i) => `<text x="${x}" y="${y + i * LINE_HEIGHT}" ${attributes}>${esc(l)}</text>`);
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Decades from below `min` to above `max`: 0.1, 1, 10, … */
function decades(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(Math.max(min, 0.01)));
  const hi = Math.ceil(Math.log10(Math.max(max, min * 10, 0.1)));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

function tickLabel(v: number): string {
  return v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(1)));
}

function logScale(domain: number[], from: number, to: number): (v: number) => number {
  const lo = Math.log10(domain[0] as number);
  const hi = Math.log10(domain[domain.length - 1] as number);
  return (v) => from + ((Math.log10(Math.max(v, domain[0] as number)) - lo) / (hi - lo || 1)) * (to - from);
}

function polyline(points: [number, number][], color: string, dashed = false, width = 1.2): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${color}" stroke-width="${width}"${dashed ? ' stroke-dasharray="5,3"' : ''} points="${d}"/>`;
}

/**
 * A grid of panels (one per configuration and fault): per 250 ms of the run, the
 * median and the slowest request's latency (log scale); each injected fault a red
 * line, shaded until its replacement served.
 */
export function timelineSvg(rows: TimelinePanel[][]): string {
  const w = 430;
  const h = 170;
  // Right: room for half the last time label, centred on the panel's edge.
  const pad = { left: 48, right: 20, top: 22, bottom: 28 };
  const cols = Math.max(...rows.map((r) => r.length), 1);
  const width = cols * w;
  const caption = wrapText(
    'per 250 ms: median (blue) and slowest (orange) request latency, ms, log scale; red: fault injected, shaded until the replacement served',
    width - 16,
  );
  const height = rows.length * h + 10 + caption.length * LINE_HEIGHT;
  const all = rows.flat().flatMap((p) => p.points.map((q) => q.latencyMs));
  const ticks = decades(minOf(all, 0.5), maxOf(all, 10));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<title>Request latency over time, per configuration and fault</title>',
    `<rect width="100%" height="100%" fill="white"/>`,
    ...textLines(caption, 8, rows.length * h + 8 + LINE_HEIGHT / 2),
  ];
  rows.forEach((row, ri) => {
    row.forEach((panel, ci) => {
      const x0 = ci * w + pad.left;
      const x1 = (ci + 1) * w - pad.right;
      const y0 = ri * h + pad.top;
      const y1 = (ri + 1) * h - pad.bottom;
      const span = Math.max(panel.toMs - panel.fromMs, 1);
      const x = (t: number) => x0 + ((t - panel.fromMs) / span) * (x1 - x0);
      const y = logScale(ticks, y1, y0);
      // Titles are short; one too long for its panel is cut rather than run into the next.
      const title = wrapText(panel.title, x1 - x0, true)[0] as string;
      parts.push(`<text x="${x0}" y="${y0 - 6}" ${FONT} font-weight="bold">${esc(title)}</text>`);
      parts.push(
        `<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#999"/>`,
      );
      for (const t of ticks) {
        parts.push(`<line x1="${x0}" x2="${x1}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`);
        parts.push(`<text x="${x0 - 4}" y="${y(t) + 4}" ${FONT} text-anchor="end">${tickLabel(t)}</text>`);
      }
      const seconds = Math.floor(span / 1000);
      const step = Math.max(1, Math.ceil(seconds / 6));
      for (let s = 0; s <= seconds; s += step) {
        parts.push(
          `<text x="${x(panel.fromMs + s * 1000)}" y="${y1 + 14}" ${FONT} text-anchor="middle">${s}s</text>`,
        );
      }
      for (const f of panel.faults) {
        const end = f.recoveredMs ?? f.injectedMs;
        parts.push(
          `<rect x="${x(f.injectedMs)}" y="${y0}" width="${Math.max(1, x(end) - x(f.injectedMs))}" height="${y1 - y0}" fill="#d62728" fill-opacity="0.12"/>`,
        );
        parts.push(
          `<line x1="${x(f.injectedMs)}" x2="${x(f.injectedMs)}" y1="${y0}" y2="${y1}" stroke="#d62728"/>`,
        );
      }
      const buckets = new Map<number, number[]>();
      for (const p of panel.points) {
        const b = Math.floor((p.atMs - panel.fromMs) / 250);
        const list = buckets.get(b) ?? [];
        list.push(p.latencyMs);
        buckets.set(b, list);
      }
      const keys = [...buckets.keys()].sort((a, b) => a - b);
      const at = (b: number) => x(panel.fromMs + b * 250 + 125);
      const sorted = (b: number) => [...(buckets.get(b) ?? [])].sort((m, n) => m - n);
      parts.push(
        polyline(
          keys.map((b) => [at(b), y(maxOf(buckets.get(b) ?? [0]))]),
          '#ff7f0e',
        ),
      );
      parts.push(
        polyline(
          keys.map((b) => [at(b), y(percentile(sorted(b), 0.5))]),
          '#1f77b4',
          false,
          1.5,
        ),
      );
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const NINES = 4;

/** Latency distributions on one chart: log latency across, percentiles up on a "nines" scale to show the tail. */
export function cdfSvg(series: CdfSeries[], title: string): string {
  // The legend's column as wide as its longest label; the title wrapped over the plot's width.
  const legend = maxOf(
    series.map((s) => textWidth(s.label)),
    140,
  );
  const pad = { left: 50, right: 50 + Math.ceil(legend), top: 0, bottom: 40 };
  const width = 570 + pad.right;
  const heading = wrapText(title, width - pad.left - 8, true);
  pad.top = 16 + heading.length * LINE_HEIGHT;
  const height = 390 + pad.top;
  const all = series.flatMap((s) => s.latencies);
  const ticks = decades(minOf(all, 0.5), maxOf(all, 10));
  const x = logScale(ticks, pad.left, width - pad.right);
  // -log10(1 - f): p0 at the bottom, then p90, p99, p99.9, p99.99 at equal steps.
  const nines = (f: number) => Math.min(NINES, -Math.log10(Math.max(1 - f, 10 ** -NINES)));
  const y = (f: number) => height - pad.bottom - (nines(f) / NINES) * (height - pad.top - pad.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...textLines(heading, pad.left, 18, `${FONT} font-weight="bold"`),
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" ${FONT} text-anchor="middle">latency, ms (log scale)</text>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${y(0)}" y2="${y(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${y(0) + 14}" ${FONT} text-anchor="middle">${tickLabel(t)}</text>`);
  }
  for (const [f, label] of [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
    [0.9999, 'p99.99'],
  ] as const) {
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(f)}" y2="${y(f)}" stroke="#eee"/>`);
    parts.push(`<text x="${pad.left - 4}" y="${y(f) + 4}" ${FONT} text-anchor="end">${label}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const sorted = [...s.latencies].sort((a, b) => a - b);
    const n = sorted.length;
    // Every point of the tail (the last 1 %), at most ~400 of the body.
    const step = Math.max(1, Math.floor(n / 400));
    const points: [number, number][] = [];
    for (let k = 0; k < n; k += k >= n * 0.99 ? 1 : step) points.push([x(sorted[k] as number), y(k / n)]);
    parts.push(polyline(points, color, s.dashed, 1.6));
    const ly = pad.top + 16 + i * 16;
    parts.push(
      `<line x1="${width - pad.right + 10}" x2="${width - pad.right + 34}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    parts.push(`<text x="${width - pad.right + 40}" y="${ly}" ${FONT}>${esc(s.label)}</text>`);
  });
  parts.push(
    `<rect x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}" fill="none" stroke="#999"/>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}
