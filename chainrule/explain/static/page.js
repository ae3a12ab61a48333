// chainrule's explanation page: draws the graph laid out by dagre and steps through the passes.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cr-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var CHAR = 7.3, LINE = 16, PAD = 9;

  function make(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  // The layout: dagre places the nodes in layers, left to right, and routes the edges.
  var g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 46, edgesep: 8, marginx: 14, marginy: 24 });
  g.setDefaultEdgeLabel(function () { return {}; });
  data.clusters.forEach(function (c) { g.setNode(c.id, { label: c.label }); });
  data.nodes.forEach(function (n) {
    g.setNode(n.id, { width: Math.round(n.chars * CHAR + 2 * PAD), height: 3 * LINE + 2 * PAD - 4 });
    if (n.cluster) g.setParent(n.id, n.cluster);
  });
  data.edges.forEach(function (e, i) { g.setEdge(e.from, e.to, {}, "e" + i); });
  dagre.layout(g);

  var size = g.graph();
  var width = Math.ceil(size.width || 100), height = Math.ceil(size.height || 60);
  var svg = make("svg", { xmlns: SVG, viewBox: "0 0 " + width + " " + height, width: width, height: height });
  var defs = make("defs", {}, svg);
  [["cr-arrow", "#9aa3b0"], ["cr-arrow-grad", "#c0392b"], ["cr-arrow-value", "#2a6fb0"]].forEach(function (m) {
    var marker = make("marker", { id: m[0], viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                                  markerHeight: 7, orient: "auto-start-reverse" }, defs);
    make("path", { d: "M0,0 L10,5 L0,10 z", fill: m[1] }, marker);
  });

  data.clusters.forEach(function (c) {
    var box = g.node(c.id);
    if (!box || !box.width) return;
    var group = make("g", { "class": "cr-cluster", "data-cluster": c.id }, svg);
    make("rect", { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height,
                   rx: 8 }, group);
    make("text", { x: box.x - box.width / 2 + 4, y: box.y - box.height / 2 - 4 }, group).textContent = c.label;
  });

  var edgePaths = data.edges.map(function (e, i) {
    var points = g.edge({ v: e.from, w: e.to, name: "e" + i }).points;
    var d = points.map(function (p, k) { return (k ? "L" : "M") + p.x.toFixed(1) + "," + p.y.toFixed(1); });
    var group = make("g", { "class": "cr-edge", "data-from": e.from, "data-to": e.to }, svg);
    return make("path", { d: d.join(" "), "marker-end": "url(#cr-arrow)" }, group);
  });

  var boxes = {};
  data.nodes.forEach(function (n) {
    var box = g.node(n.id);
    var group = make("g", { "class": "cr-node " + n.kind, "data-node": n.id,
                            transform: "translate(" + (box.x - box.width / 2).toFixed(1) + "," +
                                       (box.y - box.height / 2).toFixed(1) + ")" }, svg);
    make("rect", { width: box.width, height: box.height, rx: 6 }, group);
    var title = make("text", { x: PAD, y: PAD + 11, "class": "title" }, group);
    title.textContent = n.title;
    var value = make("text", { x: PAD, y: PAD + 11 + LINE, "class": "value" }, group);
    var grad = make("text", { x: PAD, y: PAD + 11 + 2 * LINE, "class": "grad" }, group);
    boxes[n.id] = { group: group, value: value, grad: grad };
  });
  var holder = document.getElementById("cr-graph");
  holder.appendChild(svg);
  var room = holder.clientWidth - 2;
  if (room > 0 && width > room) {  // shrink a wide graph to fit, down to 70 %; beyond that it scrolls
    var scale = Math.max(0.7, room / width);
    svg.setAttribute("width", Math.floor(width * scale));
    svg.setAttribute("height", Math.floor(height * scale));
  }

  // The steps.
  var steps = data.steps, current = 0;
  var list = document.getElementById("cr-steps");
  var items = steps.map(function (s, k) {
    var li = document.createElement("li");
    li.textContent = s.title;
    li.addEventListener("click", function () { show(k); });
    list.appendChild(li);
    return li;
  });
  var panel = document.getElementById("cr-panel"), counter = document.getElementById("cr-counter");
  var buttons = { first: document.getElementById("cr-first"), prev: document.getElementById("cr-prev"),
                  next: document.getElementById("cr-next"), last: document.getElementById("cr-last") };

  function reveal(id) {  // a long graph scrolls: keep the step's node in view
    var box = boxes[id] && boxes[id].group.getBoundingClientRect(), view = holder.getBoundingClientRect();
    if (!box) return;
    if (box.left < view.left) holder.scrollLeft -= view.left - box.left + 24;
    else if (box.right > view.right) holder.scrollLeft += box.right - view.right + 24;
  }

  function show(k) {
    current = Math.max(0, Math.min(steps.length - 1, k));
    var values = {}, grads = {};
    for (var i = 0; i <= current; i++) {
      Object.assign(values, steps[i].values);
      Object.assign(grads, steps[i].grads);
    }
    var step = steps[current], focus = {};
    step.focus.forEach(function (id) { focus[id] = true; });
    Object.keys(boxes).forEach(function (id) {
      var b = boxes[id], known = values[id] !== undefined, gradKnown = grads[id] !== undefined;
      b.value.textContent = "value " + (known ? values[id] : "·");
      b.value.classList.toggle("unknown", !known);
      b.grad.textContent = "grad " + (gradKnown ? grads[id] : "·");
      b.grad.classList.toggle("unknown", !gradKnown);
      b.group.classList.toggle("active", !!focus[id]);
      b.group.classList.toggle("has-value", known);
      b.group.classList.toggle("has-grad", gradKnown);
    });
    var activeEdges = {};
    step.edges.forEach(function (i) { activeEdges[i] = true; });
    var arrow = step.phase === "forward" ? "url(#cr-arrow-value)" : "url(#cr-arrow-grad)";
    edgePaths.forEach(function (path, i) {
      path.parentNode.classList.toggle("active", !!activeEdges[i]);
      path.setAttribute("marker-end", activeEdges[i] ? arrow : "url(#cr-arrow)");
    });
    document.body.className = "phase-" + step.phase;
    document.body.setAttribute("data-step", String(current));
    panel.innerHTML = step.html;  // written by chainrule, every value escaped there
    counter.textContent = "step " + (current + 1) + " of " + steps.length + ": " + step.phase;
    items.forEach(function (li, j) { li.classList.toggle("current", j === current); });
    buttons.first.disabled = buttons.prev.disabled = current === 0;
    buttons.next.disabled = buttons.last.disabled = current === steps.length - 1;
    if (step.focus.length) reveal(step.focus[0]);
  }

  buttons.first.addEventListener("click", function () { show(0); });
  buttons.prev.addEventListener("click", function () { show(current - 1); });
  buttons.next.addEventListener("click", function () { show(current + 1); });
  buttons.last.addEventListener("click", function () { show(steps.length - 1); });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var moves = { ArrowRight: current + 1, ArrowDown: current + 1, ArrowLeft: current - 1, ArrowUp: current - 1,
                  Home: 0, End: steps.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    show(moves[event.key]);
  });
  show(0);
  document.body.setAttribute("data-ready", "true");
})();
