// A live chart that stays one element: each new picture calls Plotly.react on the same <div>, which updates
// the chart in place (no remount, no blank frame) and keeps a student's zoom and hidden traces. Pictures that
// arrive faster than the screen draws are dropped for the newest (one draw per animation frame), and a chart
// scrolled out of sight is not redrawn until it comes back (a student reading further down the page).
// The page in control of a run asks the server three times a second, and its charts on the canvas move ten times
// a second all the same: a chart of the run's snapshot gets, with each new picture, the pictures of the snapshots
// since the last one (`frames`, oldest first), and a chart whose lines grew since the last picture (the curves of
// the run's history) shows the points added in steps; either way the pictures are spread evenly over the time until
// the next one is due (the time since the last one came). plotly.js, too slow for that, draws the newest alone.
// A chart the canvas can draw is drawn there while its run trains (livecanvas.js, which comes before this file)
// and by plotly.js, zoomable and with its PNG button, once the run pauses or ends. The last picture drawn is
// named in a hidden marker (`.edl-live-drawn`): what the page's tests and benchmarks count.
let plotlyLoading = null;

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { plotlyLoading = null; reject(new Error("plotly.js did not load")); };
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

function failed(host) {
  host.edlPlot.textContent = "This chart could not load its drawing library (plotly.js) from the server.";
}

const QUEUE_KEPT = 24;
const STEP_MS = 80;

function draw(host) {
  host.edlFrame = null;
  const payload = host.edlQueue[0];
  if (!payload) return;
  const now = performance.now();
  if (now < host.edlDue) {
    schedule(host);
    return;
  }
  const onCanvas = Boolean(payload.live && canvasDrawable(payload.figure));
  const picture = `${payload.version}:${onCanvas ? "canvas" : "plotly"}`;
  if (!onCanvas && !window.Plotly) {
    loadPlotly(payload.plotly).then(() => schedule(host), () => failed(host));
    return;
  }
  host.edlQueue.shift();
  host.edlDue = now + host.edlEvery;
  if (host.edlQueue.length) schedule(host);
  if (picture === host.edlDrawn) return;
  const canvas = host.edlCanvas;
  if (onCanvas) {
    drawOnCanvas(canvas, payload.figure, host.clientWidth);
    canvas.style.position = "static";
    canvas.style.display = "block";
    host.edlPlot.style.display = "none";
  } else {
    // The canvas stays over the chart until plotly.js has drawn it: no blank frame when a run pauses or ends.
    canvas.style.position = "absolute";
    host.edlPlot.style.display = "";
    const layout = Object.assign({ uirevision: "live" }, payload.figure.layout);
    window.Plotly.react(host.edlPlot, payload.figure.data, layout, payload.config).then(() => {
      if (host.edlDrawn === picture) canvas.style.display = "none";
    });
  }
  host.edlDrawn = picture;
  host.edlMarker.textContent = picture;
}

function receive(host, payload) {
  // Queue the pictures a message brings (see above) where they will be played back: a running chart on the canvas,
  // in sight, that has drawn before. Otherwise the newest alone, at once.
  const now = performance.now();
  const frames = payload.frames || [];
  delete payload.frames;
  const gap = now - (host.edlArrived ?? -Infinity);
  const before = host.edlLastFigure;
  host.edlArrived = now;
  host.edlLastFigure = payload.figure;
  const plays = payload.live && host.edlDrawn !== undefined && host.edlVisible !== false
    && gap < 1000 && canvasDrawable(payload.figure);
  if (!plays) {
    host.edlQueue = [payload];
    host.edlDue = 0;
    return;
  }
  const steps = frames.length ? null : grown(before, payload.figure, Math.round(gap / STEP_MS));
  const earlier = frames.length
    ? frames.map((frame) => Object.assign(frame, { live: true }))
    : (steps || []).map((figure, step) => Object.assign({}, payload, { figure, version: `${payload.version}.${step}` }));
  host.edlQueue.push(...earlier, payload);
  host.edlQueue.splice(0, Math.max(0, host.edlQueue.length - QUEUE_KEPT));
  host.edlEvery = gap / host.edlQueue.length;
}

function grown(before, after, steps) {
  // The pictures between `before` and `after` (`steps` in all, counting `after`) where `after` is `before` with
  // points added to its lines: each such line cut to part of the added points, the other lines as in `after`.
  // None where no line grew so (another chart, a new run, rows thinned) or there is no time for a step.
  if (steps < 2 || !before || before.data.length !== after.data.length) return null;
  const lines = after.data.map((trace, i) => {
    const x0 = numbers(before.data[i].x), y0 = numbers(before.data[i].y);
    const x1 = numbers(trace.x), y1 = numbers(trace.y);
    if (!x0?.length || !y0 || !x1 || !y1 || x1.length <= x0.length) return null;
    const last = x0.length - 1;
    return x1[last] === x0[last] && y1[last] === y0[last] ? [x0.length, x1, y1] : null;
  });
  if (!lines.some(Boolean)) return null;
  return Array.from({ length: steps - 1 }, (_, step) => ({
    layout: after.layout,
    data: after.data.map((trace, i) => {
      if (!lines[i]) return trace;
      const [from, x, y] = lines[i];
      const upto = from + Math.round(((x.length - from) * (step + 1)) / steps);
      return Object.assign({}, trace, { x: x.slice(0, upto), y: y.slice(0, upto) });
    }),
  }));
}

function schedule(host) {
  if (!host.edlFrame) host.edlFrame = requestAnimationFrame(() => draw(host));
}

function create(parentElement) {
  const host = document.createElement("div");
  host.className = "edl-live";
  host.style.width = "100%";
  host.style.position = "relative";
  host.edlPlot = document.createElement("div");
  host.edlPlot.className = "edl-live-plot";
  host.edlPlot.style.width = "100%";
  host.edlCanvas = document.createElement("canvas");
  host.edlCanvas.className = "edl-live-canvas";
  host.edlCanvas.setAttribute("role", "img");
  Object.assign(host.edlCanvas.style, { top: "0", left: "0", display: "none" });
  host.edlMarker = document.createElement("span");
  host.edlMarker.className = "edl-live-drawn";
  host.edlMarker.hidden = true;
  host.edlQueue = [];
  host.edlDue = 0;
  host.edlEvery = 0;
  host.append(host.edlPlot, host.edlCanvas, host.edlMarker);
  parentElement.appendChild(host);
  host.edlObserver = new IntersectionObserver((entries) => {
    host.edlVisible = entries[entries.length - 1].isIntersecting;
    if (host.edlVisible) { // back in sight: the newest picture
      host.edlQueue.splice(0, host.edlQueue.length - 1);
      host.edlDue = 0;
      schedule(host);
    }
  });
  host.edlObserver.observe(host);
  return host;
}

const decoder = new TextDecoder();

export default function (component) {
  const { data, parentElement } = component;
  const host = parentElement.querySelector(".edl-live") || create(parentElement);
  if (data !== host.edlBytes) { // the picture's JSON, as bytes: each message brings its own copy
    host.edlBytes = data;
    const text = decoder.decode(data);
    if (text !== host.edlData) { // the same picture again: nothing to draw
      host.edlData = text;
      receive(host, JSON.parse(text));
      if (host.edlDrawn === undefined || host.edlVisible !== false) schedule(host);
    }
  }
  // Streamlit calls this between redraws too: only a chart that has left the page stops being observed.
  return () => { if (!host.isConnected) host.edlObserver.disconnect(); };
}
