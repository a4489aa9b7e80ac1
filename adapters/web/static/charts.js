// Draws the dashboard's Vega-Lite specs (JSON blocks in the page) with vega-embed, as SVG.
(function () {
  "use strict";
  for (const block of document.querySelectorAll("script.chart-spec")) {
    const target = document.getElementById(block.dataset.target);
    const spec = JSON.parse(block.textContent);
    window.vegaEmbed(target, spec, { renderer: "svg", actions: false, defaultStyle: false, tooltip: { disableDefaultStyle: true } })
      .then(() => target.setAttribute("data-rendered", "yes"))
      .catch((err) => { target.textContent = String(err); target.setAttribute("data-rendered", "error"); });
  }
})();
