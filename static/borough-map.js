/* Borough page map (issue 8): the borough boundary and its geocoded delivery points. The same data is in the page as
   text (the delivery points list) and as downloads, so the map is an extra, not the only way to see it. */
(function () {
  "use strict";
  var TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";
  var ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function draw(element) {
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(TILES, { maxZoom: 18, attribution: ATTRIBUTION }).addTo(map);
    fetch(element.getAttribute("data-boundary"))
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        var outline = L.geoJSON(JSON.parse(rows[0].geometry), {
          style: { color: "#1d70b8", weight: 3, fillColor: "#1d70b8", fillOpacity: 0.12 }
        }).addTo(map);
        map.fitBounds(outline.getBounds());
        return fetch(element.getAttribute("data-points"));
      })
      .then(function (r) { return r.json(); })
      .then(function (collection) {
        L.geoJSON(collection, {
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, { radius: 7, color: "#0b0c0c", weight: 2, fillColor: "#ffdd00", fillOpacity: 1 });
          },
          onEachFeature: function (feature, layer) {
            var p = feature.properties;
            layer.bindPopup("<strong>" + escapeHtml(p.name) + "</strong><br>" + escapeHtml(p.services || "") +
              "<br>" + escapeHtml(p.geocode_precision));
          }
        }).addTo(map);
        element.setAttribute("data-points-drawn", String(collection.features.length));
      })
      .catch(function () { element.setAttribute("data-error", "true"); });
  }

  var script = document.currentScript;
  document.addEventListener("DOMContentLoaded", function () {
    var maps = document.querySelectorAll(".borough-map");
    if (!maps.length) { return; }
    // datasette-leaflet ships Leaflet as an ES module (which may also set window.L).
    import(script.getAttribute("data-leaflet")).then(function (module) {
      if (typeof window.L === "undefined") { window.L = Object.assign({}, module); }
      Array.prototype.forEach.call(maps, draw);
    });
  });
})();
