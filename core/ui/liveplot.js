// A live chart that stays one element: each new picture calls Plotly.react on the same <div>, which updates
// the chart in place (no remount, no blank frame) and keeps a student's zoom and hidden traces. Pictures that
// arrive faster than the screen draws are dropped for the newest (one draw per animation frame).
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

export default function (component) {
  const { data, parentElement } = component;
  let chart = parentElement.querySelector(".edl-live-plot");
  if (!chart) {
    chart = document.createElement("div");
    chart.className = "edl-live-plot";
    chart.style.width = "100%";
    parentElement.appendChild(chart);
  }
  if (data === chart.edlData) return; // the same picture again: nothing to draw
  chart.edlData = data;
  chart.edlNext = JSON.parse(data);
  loadPlotly(chart.edlNext.plotly).then(
    () => { if (!chart.edlFrame) chart.edlFrame = requestAnimationFrame(() => draw(chart)); },
    () => { chart.textContent = "This chart could not load its drawing library (plotly.js) from the server."; },
  );
}
