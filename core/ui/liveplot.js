// A live chart that stays one element: each new picture calls Plotly.react on the same <div>, which updates
// the chart in place (no remount, no blank frame) and keeps a student's zoom and hidden traces. Pictures that
// arrive faster than the screen draws are dropped for the newest (one draw per animation frame), and a chart
// scrolled out of sight is not redrawn until it comes back (a student reading further down the page).
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

function draw(chart) {
  chart.edlFrame = null;
  const payload = chart.edlNext;
  if (!payload || payload.version === chart.edlDrawn) return;
  chart.edlDrawn = payload.version;
  const layout = Object.assign({ uirevision: "live" }, payload.figure.layout);
  window.Plotly.react(chart, payload.figure.data, layout, payload.config);
}

function schedule(chart) {
  if (!chart.edlFrame && window.Plotly) chart.edlFrame = requestAnimationFrame(() => draw(chart));
}

export default function (component) {
  const { data, parentElement } = component;
  let chart = parentElement.querySelector(".edl-live-plot");
  if (!chart) {
    chart = document.createElement("div");
    chart.className = "edl-live-plot";
    chart.style.width = "100%";
    parentElement.appendChild(chart);
    chart.edlObserver = new IntersectionObserver((entries) => {
      chart.edlVisible = entries[entries.length - 1].isIntersecting;
      if (chart.edlVisible) schedule(chart); // back in sight: the newest picture
    });
    chart.edlObserver.observe(chart);
  }
  if (data !== chart.edlData) { // the same picture again: nothing to draw
    chart.edlData = data;
    chart.edlNext = JSON.parse(data);
    loadPlotly(chart.edlNext.plotly).then(
      () => { if (chart.edlDrawn === undefined || chart.edlVisible !== false) schedule(chart); },
      () => { chart.textContent = "This chart could not load its drawing library (plotly.js) from the server."; },
    );
  }
  // Streamlit calls this between redraws too: only a chart that has left the page stops being observed.
  return () => { if (!chart.isConnected) chart.edlObserver.disconnect(); };
}
