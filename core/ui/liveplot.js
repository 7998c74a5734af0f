// A live chart that stays one element: each new picture calls Plotly.react on the same <div>, which updates
// the chart in place (no remount, no blank frame) and keeps a student's zoom and hidden traces. Pictures that
// arrive faster than the screen draws are dropped for the newest (one draw per animation frame), and a chart
// scrolled out of sight is not redrawn until it comes back (a student reading further down the page).
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

function draw(host) {
  host.edlFrame = null;
  const payload = host.edlNext;
  if (!payload) return;
  const onCanvas = Boolean(payload.live && canvasDrawable(payload.figure));
  const picture = `${payload.version}:${onCanvas ? "canvas" : "plotly"}`;
  if (picture === host.edlDrawn) return;
  const canvas = host.edlCanvas;
  if (onCanvas) {
    drawOnCanvas(canvas, payload.figure, host.clientWidth);
    canvas.style.position = "static";
    canvas.style.display = "block";
    host.edlPlot.style.display = "none";
  } else {
    if (!window.Plotly) {
      loadPlotly(payload.plotly).then(() => schedule(host), () => failed(host));
      return;
    }
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
  host.append(host.edlPlot, host.edlCanvas, host.edlMarker);
  parentElement.appendChild(host);
  host.edlObserver = new IntersectionObserver((entries) => {
    host.edlVisible = entries[entries.length - 1].isIntersecting;
    if (host.edlVisible) schedule(host); // back in sight: the newest picture
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
      host.edlNext = JSON.parse(text);
      if (host.edlDrawn === undefined || host.edlVisible !== false) schedule(host);
    }
  }
  // Streamlit calls this between redraws too: only a chart that has left the page stops being observed.
  return () => { if (!host.isConnected) host.edlObserver.disconnect(); };
}
