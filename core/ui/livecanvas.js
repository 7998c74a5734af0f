// A live chart's picture drawn on a canvas while its run trains: lines, markers and a heatmap with its colour bar,
// axes, a title and a legend, read from the same plotly figure the chart shows once the run stops. plotly.js
// spends 20-50 ms of the browser's main thread on each redraw of a chart; this takes a few, so a projected run can
// redraw ten times a second on a classroom laptop. Figures with anything else (shapes, annotations, other traces,
// several axes) are left to plotly.js (`canvasDrawable`).
const TYPED = {
  f8: Float64Array, f4: Float32Array, i4: Int32Array, i2: Int16Array, i1: Int8Array,
  u4: Uint32Array, u2: Uint16Array, u1: Uint8Array, i8: BigInt64Array, u8: BigUint64Array,
};
const DASHES = { dot: [3, 3], dash: [9, 9], dashdot: [9, 3, 3, 3], longdash: [15, 6] };
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

const DECODED = new WeakMap();

function numbers(value) {
  // A data array as plotly's JSON carries it: a list, or typed bytes in base64 (2-D with a shape), decoded once
  // per picture however often the picture is checked and drawn.
  if (value == null) return null;
  if (Array.isArray(value)) return value;
  if (typeof value.bdata !== "string" || !TYPED[value.dtype]) return null;
  if (!DECODED.has(value)) DECODED.set(value, decode(value));
  return DECODED.get(value);
}

function decode(value) {
  const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
  const flat = Array.from(new TYPED[value.dtype](bytes.buffer), Number);
  const shape = value.shape ? String(value.shape).split(",").map(Number) : [flat.length];
  if (shape.length < 2) return flat;
  return Array.from({ length: shape[0] }, (_, row) => flat.slice(row * shape[1], (row + 1) * shape[1]));
}

function axisKeys(layout) {
  return Object.keys(layout).filter((key) => /^[xy]axis\d+$/.test(key));
}

const AXIS_STYLING = ["tickvals", "ticktext", "tickformat", "ticksuffix", "tickprefix", "dtick", "tick0", "categoryarray", "matches"];

function axisDrawable(axis, types) {
  // An axis the canvas draws as plotly would: numbers at even steps, left to right or bottom to top.
  if (!axis) return true;
  if (axis.type && !types.includes(axis.type)) return false;
  if (axis.autorange === "reversed" || axis.showticklabels === false) return false;
  return AXIS_STYLING.every((key) => axis[key] == null);
}

function canvasDrawable(figure) {
  const layout = figure.layout || {};
  if ((layout.shapes || []).length || (layout.annotations || []).length || (layout.images || []).length) return false;
  if (axisKeys(layout).length || !(figure.data || []).length) return false;
  if (!axisDrawable(layout.xaxis, ["linear"]) || !axisDrawable(layout.yaxis, ["linear", "log"])) return false;
  return figure.data.every((trace) => {
    if ((trace.xaxis && trace.xaxis !== "x") || (trace.yaxis && trace.yaxis !== "y")) return false;
    if ((trace.visible != null && trace.visible !== true) || trace.error_x || trace.error_y) return false;
    if (trace.line?.shape && trace.line.shape !== "linear") return false;
    const type = trace.type || "scatter";
    if (type === "heatmap") return Array.isArray(numbers(trace.z)?.[0]) && !trace.text;
    if (type !== "scatter" || trace.fill || trace.text || trace.stackgroup) return false;
    if (!/^(lines|markers|lines\+markers)$/.test(trace.mode || "lines")) return false;
    const x = numbers(trace.x), y = numbers(trace.y);
    const marker = trace.marker || {};
    return x && y && x.every((v) => v === null || typeof v === "number")
      && !Array.isArray(marker.color) && !Array.isArray(marker.size) && !Array.isArray(marker.symbol);
  });
}

function niceTicks(low, high, count) {
  // About `count` ticks at plotly's steps (2, 5 or 10 times a power of ten, the first at least span / count).
  const span = high - low;
  if (!(span > 0)) return [low];
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9)) || 10 * power;
  const ticks = [];
  for (let tick = Math.ceil(low / step - 1e-9) * step; tick <= high + step * 1e-9; tick += step) {
    ticks.push(Math.abs(tick) < step * 1e-9 ? 0 : tick);
  }
  return ticks;
}

function tickText(value, ticks) {
  // As many decimals as the step has (0.25 apart: two), so that no two ticks read the same.
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(value) || 1;
  let decimals = 0;
  while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6 * step * 10 ** decimals) {
    decimals += 1;
  }
  const text = value.toLocaleString("en-US", { maximumFractionDigits: decimals }); // 0.9, 0.95, 1: as plotly writes
  return text.replace(/^-/, "−");
}

function powerText(exponent) {
  return exponent === 0 ? "1" : exponent === 1 ? "10" : "10" + String(exponent).replace(/./g, (c) => SUPERSCRIPT[c]);
}

function colourScale(scale) {
  // A plotly colour scale ([[0, '#rrggbb'], …]) as a function of t in [0, 1] to an [r, g, b] triple.
  const stops = scale.map(([at, colour]) => [at, hexToRgb(colour)]);
  return (t) => colourAt(stops, t);
}

function colourAt(stops, t) {
  const i = Math.max(1, stops.findIndex(([at]) => at >= t));
  const [a, ca] = stops[i - 1], [b, cb] = stops[Math.min(i, stops.length - 1)];
  const f = b > a ? (t - a) / (b - a) : 0;
  return ca.map((v, k) => Math.round(v + (cb[k] - v) * Math.min(1, Math.max(0, f))));
}

function hexToRgb(colour) {
  const match = /^#?([0-9a-f]{6})$/i.exec(colour);
  if (match) return [0, 2, 4].map((k) => parseInt(match[1].slice(k, k + 2), 16));
  const rgb = /rgba?\(([^)]+)\)/.exec(colour || "");
  return rgb ? rgb[1].split(",").slice(0, 3).map(Number) : [0, 0, 0];
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" };

function lines(text) {
  // A plotly text (title, name) as the lines it shows: split at <br>, its other tags dropped, entities read.
  return String(text ?? "")
    .split(/<br\s*\/?>/i)
    .map((line) => line.replace(/<[^>]*>/g, "").replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name) => {
      if (name[0] !== "#") return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1].toLowerCase() === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }));
}

class Axis {
  constructor(spec, values, log, pad) {
    this.log = log;
    const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map((v) => (log ? Math.log10(v) : v));
    let [low, high] = spec?.range ? spec.range.slice() : [Math.min(...finite), Math.max(...finite)];
    if (!spec?.range) {
      if (!Number.isFinite(low)) [low, high] = [0, 1];
      if (low === high) [low, high] = [low - 1, high + 1];
      const margin = (high - low) * pad;
      [low, high] = [low - margin, high + margin];
      if (spec?.rangemode === "tozero" && !log) [low, high] = [Math.min(low, 0), Math.max(high, 0)];
      if (spec?.rangemode === "nonnegative" && !log) [low, high] = [Math.max(low, 0), Math.max(high, 1e-9)];
    }
    [this.low, this.high] = [low, high];
    this.title = spec?.title?.text || "";
  }

  at(value) {
    const v = this.log ? Math.log10(value) : value;
    return (v - this.low) / (this.high - this.low);
  }

  ticks(length, minPx) {
    const count = Math.min(9, Math.max(4, length / minPx)) + 1; // as plotly counts an axis's ticks
    const decades = Math.floor(this.high) - Math.ceil(this.low) + 1;
    if (!this.log || decades < 2) {
      // A log axis spanning less than a decade or two: plotly's in-between ticks, at even steps of the values.
      const ticks = this.log ? niceTicks(10 ** this.low, 10 ** this.high, count) : niceTicks(this.low, this.high, count);
      return ticks.map((tick) => [tick, tickText(tick, ticks)]);
    }
    const every = Math.max(1, Math.ceil((Math.floor(this.high) - Math.ceil(this.low) + 1) / Math.max(2, count)));
    const ticks = [];
    for (let e = Math.ceil(this.low); e <= Math.floor(this.high); e += every) ticks.push([10 ** e, powerText(e)]);
    return ticks;
  }
}

function drawMarker(ctx, x, y, marker, colour) {
  const size = (marker.size ?? 6) / 2;
  ctx.beginPath();
  if ((marker.symbol || "circle").startsWith("diamond")) {
    ctx.moveTo(x, y - size * 1.3); ctx.lineTo(x + size * 1.3, y); ctx.lineTo(x, y + size * 1.3); ctx.lineTo(x - size * 1.3, y);
    ctx.closePath();
  } else if ((marker.symbol || "").startsWith("square")) {
    ctx.rect(x - size, y - size, 2 * size, 2 * size);
  } else {
    ctx.arc(x, y, size, 0, 2 * Math.PI);
  }
  ctx.fillStyle = marker.color || colour;
  ctx.fill();
  if (marker.line?.width) {
    ctx.lineWidth = marker.line.width;
    ctx.strokeStyle = marker.line.color || "#444444";
    ctx.stroke();
  }
}

function heatmapImage(trace) {
  // The heatmap's cells as a small image, one pixel a cell, row 0 at the bottom as plotly draws it.
  const z = numbers(trace.z);
  const rows = z.length, cols = z[0].length;
  const flat = z.flat().filter(Number.isFinite);
  const zmin = trace.zmin ?? Math.min(...flat), zmax = trace.zmax ?? Math.max(...flat);
  const scale = Array.isArray(trace.colorscale) ? trace.colorscale : [[0, "#0d0887"], [1, "#f0f921"]];
  const colour = colourScale(scale);
  const image = new ImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const value = z[r][c];
      const offset = ((rows - 1 - r) * cols + c) * 4;
      if (!Number.isFinite(value)) continue;
      const [red, green, blue] = colour(zmax > zmin ? (value - zmin) / (zmax - zmin) : 0.5);
      image.data.set([red, green, blue, 255], offset);
    }
  }
  const canvas = new OffscreenCanvas(cols, rows);
  canvas.getContext("2d").putImageData(image, 0, 0);
  return { canvas, rows, cols, zmin, zmax, scale };
}

function cellEdges(values, count) {
  // Where a heatmap's cells begin and end along an axis: halfway between centres, as plotly places them.
  const centres = values || Array.from({ length: count }, (_, i) => i);
  const half = centres.length > 1 ? (centres[1] - centres[0]) / 2 : 0.5;
  return [centres[0] - half, centres[centres.length - 1] + half];
}

function drawOnCanvas(canvas, figure, width) {
  const layout = figure.layout || {};
  const template = layout.template?.layout || {};
  const font = { size: 13, color: "#262730", family: "sans-serif", ...(template.font || {}), ...(layout.font || {}) };
  const height = layout.height || 450;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = layout.paper_bgcolor || template.paper_bgcolor || "white";
  ctx.fillRect(0, 0, width, height);
  const text = (size, weight = "") => `${weight} ${size}px ${font.family}`.trim();

  const traces = figure.data;
  const colourway = layout.colorway || template.colorway || ["#636efa"];
  const traceColour = (trace, index) => trace.line?.color || trace.marker?.color || colourway[index % colourway.length];
  const heat = traces.find((trace) => (trace.type || "scatter") === "heatmap");
  const xs = [], ys = [];
  traces.forEach((trace) => {
    if ((trace.type || "scatter") === "heatmap") {
      const z = numbers(trace.z);
      xs.push(...cellEdges(numbers(trace.x), z[0].length));
      ys.push(...cellEdges(numbers(trace.y), z.length));
    } else {
      xs.push(...numbers(trace.x).filter((v) => v !== null));
      ys.push(...numbers(trace.y).filter((v) => v !== null));
    }
  });
  const onlyLines = traces.every((trace) => (trace.type || "scatter") === "scatter" && (trace.mode || "lines") === "lines");
  const x = new Axis(layout.xaxis, xs, false, onlyLines || heat ? 0 : 0.04);
  const y = new Axis(layout.yaxis, ys, layout.yaxis?.type === "log", heat ? 0 : 0.06);

  // Room: the margins the figure asks for, then the tick labels, axis titles and the colour bar.
  const margin = { l: 10, r: 10, t: 80, b: 10, ...(layout.margin || {}) };
  const tickSize = font.size;
  const yTicksGuess = y.ticks(height - margin.t - margin.b, 40);
  ctx.font = text(tickSize);
  const yLabelWidth = Math.max(0, ...yTicksGuess.map(([, label]) => ctx.measureText(label).width));
  const left = margin.l + yLabelWidth + 8 + (y.title ? font.size * 1.6 : 0);
  const bar = heat && heat.showscale !== false ? 70 + font.size * 2 : 0;
  const right = width - margin.r - bar;
  const top = margin.t;
  const bottom = height - margin.b - tickSize - 8 - (x.title ? font.size * 1.8 : 0);
  const plot = { left, right, top, bottom };
  if (layout.yaxis?.scaleanchor === "x") {
    // The same length for a unit on both axes: the side with room to spare is narrowed, centred, as plotly does.
    const perX = (right - left) / (x.high - x.low), perY = (bottom - top) / (y.high - y.low);
    const per = Math.min(perX, perY);
    const spareX = right - left - per * (x.high - x.low), spareY = bottom - top - per * (y.high - y.low);
    Object.assign(plot, { left: left + spareX / 2, right: right - spareX / 2, top: top + spareY / 2, bottom: bottom - spareY / 2 });
  }
  const px = (v) => plot.left + x.at(v) * (plot.right - plot.left);
  const py = (v) => plot.bottom - y.at(v) * (plot.bottom - plot.top);

  ctx.fillStyle = layout.plot_bgcolor || template.plot_bgcolor || "white";
  ctx.fillRect(plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top);
  const grid = template.xaxis?.gridcolor || "#EBF0F8";
  ctx.lineWidth = 1;
  ctx.fillStyle = font.color;
  ctx.font = text(tickSize);
  const xTicks = x.ticks(plot.right - plot.left, 80);
  const yTicks = y.ticks(plot.bottom - plot.top, 40);
  ctx.strokeStyle = grid;
  const gridAndLabels = (ticks, toPixel, low, high, line, label) => ticks.forEach(([tick, text]) => {
    const at = toPixel(tick);
    if (at < low - 1 || at > high + 1) return;
    ctx.beginPath(); line(at); ctx.stroke();
    label(text, at);
  });
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  gridAndLabels(xTicks, px, plot.left, plot.right,
    (at) => { ctx.moveTo(at, plot.top); ctx.lineTo(at, plot.bottom); },
    (label, at) => ctx.fillText(label, at, plot.bottom + 6));
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  gridAndLabels(yTicks, py, plot.top, plot.bottom,
    (at) => { ctx.moveTo(plot.left, at); ctx.lineTo(plot.right, at); },
    (label, at) => ctx.fillText(label, plot.left - 6, at));

  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top);
  ctx.clip();
  let image = null;
  traces.forEach((trace, index) => {
    const colour = traceColour(trace, index);
    ctx.globalAlpha = trace.opacity ?? 1;
    if ((trace.type || "scatter") === "heatmap") {
      image = heatmapImage(trace);
      const z = numbers(trace.z);
      const [x0, x1] = cellEdges(numbers(trace.x), z[0].length), [y0, y1] = cellEdges(numbers(trace.y), z.length);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(image.canvas, px(x0), py(y1), px(x1) - px(x0), py(y0) - py(y1));
      return;
    }
    const xv = numbers(trace.x), yv = numbers(trace.y);
    const mode = trace.mode || "lines";
    if (mode.includes("lines")) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = trace.line?.width ?? 2;
      ctx.setLineDash(DASHES[trace.line?.dash] || []);
      ctx.beginPath();
      let drawing = false;
      xv.forEach((xi, i) => {
        const yi = yv[i];
        if (xi === null || yi === null || !Number.isFinite(yi) || (y.log && yi <= 0)) { drawing = false; return; }
        if (drawing) ctx.lineTo(px(xi), py(yi)); else ctx.moveTo(px(xi), py(yi));
        drawing = true;
      });
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (mode.includes("markers")) {
      xv.forEach((xi, i) => {
        if (xi !== null && Number.isFinite(yv[i])) drawMarker(ctx, px(xi), py(yv[i]), trace.marker || {}, colour);
      });
    }
  });
  ctx.globalAlpha = 1;
  ctx.restore();

  ctx.fillStyle = font.color;
  ctx.font = text(font.size);
  if (x.title) {
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(lines(x.title).join(" "), (plot.left + plot.right) / 2, height - margin.b);
  }
  if (y.title) {
    ctx.save();
    ctx.translate(margin.l + font.size * 0.6, (plot.top + plot.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText(lines(y.title).join(" "), 0, 0);
    ctx.restore();
  }
  const titleSize = layout.title?.font?.size || Math.round(font.size * 1.35);
  ctx.font = text(titleSize);
  ctx.textAlign = "left"; ctx.textBaseline = "top";
  lines(layout.title?.text).forEach((line, i) => ctx.fillText(line, width * 0.05, 12 + i * titleSize * 1.3));

  // The legend above the plot, left to right, as the house style places plotly's; or in the bottom margin, where a
  // figure puts it below the plot (legend.y < 0: a legend of many entries, clear of the title).
  const entries = traces.filter((trace) => trace.name && trace.showlegend !== false && (trace.type || "scatter") === "scatter");
  const below = (layout.legend?.y ?? 1) < 0;
  ctx.font = text(font.size);
  ctx.textBaseline = "middle";
  let lx = plot.left, ly = below ? height - margin.b + font.size * 1.5 : plot.top - font.size * 0.9;
  const widths = entries.map((trace) => 56 + ctx.measureText(lines(trace.name).join(" ")).width);
  const rowCount = widths.reduce((rows, w) => {
    const last = rows[rows.length - 1];
    if (last.width + w > plot.right - plot.left && last.width > 0) rows.push({ width: w }); else last.width += w;
    return rows;
  }, [{ width: 0 }]).length;
  if (!below) ly -= (rowCount - 1) * font.size * 1.5;
  entries.forEach((trace, i) => {
    const w = widths[i];
    if (lx + w > plot.right && lx > plot.left) { lx = plot.left; ly += font.size * 1.5; }
    const colour = traceColour(trace, traces.indexOf(trace));
    if ((trace.mode || "lines").includes("lines")) {
      ctx.strokeStyle = colour; ctx.lineWidth = Math.min(4, trace.line?.width ?? 2);
      ctx.setLineDash(DASHES[trace.line?.dash] || []);
      ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 30, ly); ctx.stroke();
      ctx.setLineDash([]);
    } else {
      drawMarker(ctx, lx + 15, ly, trace.marker || {}, colour);
    }
    ctx.fillStyle = font.color; ctx.textAlign = "left";
    ctx.fillText(lines(trace.name).join(" "), lx + 36, ly);
    lx += w;
  });

  if (image && bar) {
    const bx = plot.right + 20, bw = 16, bt = plot.top, bb = plot.bottom;
    const gradient = ctx.createLinearGradient(0, bb, 0, bt);
    image.scale.forEach(([at, colour]) => gradient.addColorStop(at, `rgb(${hexToRgb(colour).join(",")})`));
    ctx.fillStyle = gradient;
    ctx.fillRect(bx, bt, bw, bb - bt);
    const barTicks = niceTicks(image.zmin, image.zmax, 5);
    ctx.fillStyle = font.color; ctx.font = text(tickSize); ctx.textAlign = "left"; ctx.textBaseline = "middle";
    barTicks.forEach((tick) => {
      const at = bb - ((tick - image.zmin) / (image.zmax - image.zmin)) * (bb - bt);
      ctx.fillText(tickText(tick, barTicks), bx + bw + 4, at);
    });
    const barTitle = heat.colorbar?.title?.text;
    if (barTitle) {
      ctx.textBaseline = "bottom";
      ctx.fillText(lines(barTitle).join(" "), bx - 4, bt - 6);
    }
  }
  canvas.setAttribute("aria-label", lines(layout.title?.text).join(" "));
}
