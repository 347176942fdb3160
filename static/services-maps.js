/* Services directory maps (issue 3): delivery points (clustered), borough coverage (shaded polygons) and the
   boroughs one service covers. Data comes from the database's JSON API; every map has a table alternative. */
(function () {
  "use strict";
  var TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";
  var ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var LONDON = [[51.28, -0.51], [51.69, 0.33]];
  // Sequential blues (ColorBrewer), dark enough steps to tell apart; "not known" is a light grey.
  var SHADES = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
  var UNKNOWN = "#ffffff";

  function baseMap(element) {
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(TILES, { maxZoom: 18, attribution: ATTRIBUTION }).addTo(map);
    map.fitBounds(LONDON);
    return map;
  }

  function fetchAll(url, rows) {
    rows = rows || [];
    return fetch(url).then(function (r) { return r.json(); }).then(function (data) {
      rows = rows.concat(data.rows);
      if (data.next_url) { return fetchAll(data.next_url, rows); }
      return rows;
    });
  }

  function withShape(url) {
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "_shape=objects&_size=max";
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function pointsMap(element) {
    var map = baseMap(element);
    var url = element.getAttribute("data-url");
    // Keep the directory's own filters (service area, commissioner, status) on the map.
    var page = new URLSearchParams(window.location.search);
    var keep = new URLSearchParams();
    page.forEach(function (value, key) {
      if (/^(service_area|commissioner|status)(__\w+)?$/.test(key)) { keep.append(key, value); }
    });
    var query = keep.toString();
    fetchAll(withShape(url + (query ? "?" + query : ""))).then(function (rows) {
      var clusters = L.markerClusterGroup();
      rows.forEach(function (row) {
        var icon = L.divIcon({ className: "service-point", iconSize: [14, 14] });
        var marker = L.marker([row.latitude, row.longitude], { icon: icon, title: row.location_name, alt: row.location_name });
        marker.bindPopup(
          '<a href="' + element.getAttribute("data-service-base") + encodeURIComponent(row.service_id) + '">' +
          escapeHtml(row.service_name) + "</a><br>" + escapeHtml(row.location_name) +
          (row.postcode_district ? " (" + escapeHtml(row.postcode_district) + ")" : "") +
          "<br><small>" + escapeHtml(row.geocode_precision) + "</small>"
        );
        clusters.addLayer(marker);
      });
      map.addLayer(clusters);
      element.setAttribute("data-points", String(rows.length));
    });
  }

  function classify(values) {
    var known = values.filter(function (v) { return v != null; }).sort(function (a, b) { return a - b; });
    if (!known.length) { return []; }
    var breaks = [];
    for (var i = 1; i < SHADES.length; i++) {
      breaks.push(known[Math.min(known.length - 1, Math.floor(i * known.length / SHADES.length))]);
    }
    return breaks;
  }

  function shadeFor(value, breaks) {
    if (value == null) { return UNKNOWN; }
    var i = 0;
    while (i < breaks.length && value >= breaks[i]) { i++; }
    return SHADES[Math.min(i, SHADES.length - 1)];
  }

  function coverageMap(element) {
    var map = baseMap(element);
    var legend = document.getElementById(element.getAttribute("data-legend"));
    var layer = null;
    var rows = [];
    function draw(measure) {
      if (layer) { map.removeLayer(layer); }
      var values = rows.map(function (r) { return r[measure]; });
      var breaks = classify(values);
      layer = L.geoJSON({
        type: "FeatureCollection",
        features: rows.map(function (r) {
          return { type: "Feature", geometry: JSON.parse(r.geometry), properties: r };
        })
      }, {
        style: function (f) {
          return { color: "#0b0c0c", weight: 1, fillOpacity: 0.8, fillColor: shadeFor(f.properties[measure], breaks) };
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindTooltip(escapeHtml(p.borough) + ": " + p.services_count + " services" +
            (p.single_borough_total_value_gbp != null ? ", £" + Math.round(p.single_borough_total_value_gbp).toLocaleString("en-GB") +
              " stated for single-borough services" : ""));
        }
      }).addTo(map);
      if (legend) {
        var items = [];
        var known = values.filter(function (v) { return v != null; });
        // Lower bound of each shade; a shade whose bound equals the next one's holds no borough and is not listed.
        var bounds = known.length ? [Math.min.apply(null, known)].concat(breaks) : [];
        for (var i = 0; i < bounds.length; i++) {
          var from = bounds[i];
          if (i + 1 < bounds.length && bounds[i + 1] === from) { continue; }
          var label = measure === "services_count" ? String(from) : "£" + Math.round(from).toLocaleString("en-GB");
          items.push('<li><span class="swatch" style="background:' + SHADES[i] + '"></span>' + label + " or more</li>");
        }
        if (values.some(function (v) { return v == null; })) {
          items.push('<li><span class="swatch" style="background:' + UNKNOWN + '"></span>not known</li>');
        }
        legend.innerHTML = items.join("");
      }
    }
    fetchAll(withShape(element.getAttribute("data-url"))).then(function (data) {
      rows = data;
      draw("services_count");
      element.setAttribute("data-boroughs", String(rows.length));
      document.querySelectorAll('input[name="coverage-measure"]').forEach(function (input) {
        input.addEventListener("change", function () { if (input.checked) { draw(input.value); } });
      });
    });
  }

  function serviceAreaMap(element) {
    var map = baseMap(element);
    var covered = JSON.parse(element.getAttribute("data-codes") || "[]");
    fetchAll(withShape(element.getAttribute("data-url"))).then(function (rows) {
      var features = rows.map(function (r) {
        return { type: "Feature", geometry: JSON.parse(r.geometry), properties: r };
      });
      var layer = L.geoJSON({ type: "FeatureCollection", features: features }, {
        style: function (f) {
          var on = covered.indexOf(f.properties.gss_code) !== -1;
          return { color: "#0b0c0c", weight: on ? 1.5 : 0.5, fillOpacity: on ? 0.7 : 0.1, fillColor: on ? "#1d70b8" : "#b1b4b6" };
        },
        onEachFeature: function (f, l) { l.bindTooltip(escapeHtml(f.properties.name)); }
      }).addTo(map);
      var bounds = L.latLngBounds([]);
      layer.eachLayer(function (l) {
        if (covered.indexOf(l.feature.properties.gss_code) !== -1) { bounds.extend(l.getBounds()); }
      });
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [10, 10] }); }
      var points = JSON.parse(element.getAttribute("data-points") || "[]");
      points.forEach(function (p) {
        L.marker([p.latitude, p.longitude], {
          icon: L.divIcon({ className: "service-point", iconSize: [14, 14] }), title: p.name, alt: p.name
        }).addTo(map).bindPopup(escapeHtml(p.name));
      });
      element.setAttribute("data-drawn", String(features.length));
    });
  }

  var script = document.currentScript;
  function loadLeaflet() {
    // datasette-leaflet ships Leaflet as an ES module that also sets window.L; the marker cluster plugin needs it.
    return import(script.getAttribute("data-leaflet")).then(function (module) {
      if (typeof window.L === "undefined") { window.L = Object.assign({}, module); }
      return import(script.getAttribute("data-markercluster"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-services-map]")) { return; }
    loadLeaflet().then(drawAll);
  });

  function drawAll() {
    document.querySelectorAll("[data-services-map]").forEach(function (element) {
      var kind = element.getAttribute("data-services-map");
      if (kind === "points") { pointsMap(element); }
      if (kind === "coverage") { coverageMap(element); }
      if (kind === "service") { serviceAreaMap(element); }
    });
  }
})();
