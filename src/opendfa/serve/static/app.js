// The web UI (a file, so the page's content policy allows no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
let current = null, view = "image";
const SUGGEST = ["Is it fake?", "Why?", "Where are the traces?", "How sure are you?", "What kind of forgery?", "What should I check next?", "Explain it simply",
  "What does the metadata say?", "Is there a content credential?", "Was it recompressed?", "Show me the ELA"];

function headers() {
  const key = $("key").value.trim();
  return key ? { "X-API-Key": key } : {};
}
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (!response.ok) {
    let detail = response.statusText;
    try { const body = await response.json(); detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); } catch (e) {}
    throw new Error(`${response.status}: ${detail}`);
  }
  return response.status === 204 ? null : response.json();
}
function setStatus(text, isError = false) { $("status").textContent = text; $("status").className = isError ? "error" : "muted"; }

async function upload(file) {
  if (!file) return;
  setStatus(`analysing ${file.name}...`);
  const form = new FormData(); form.append("file", file);
  try {
    const result = await api("/api/analyze", { method: "POST", body: form });
    setStatus(`done: ${result.case.verdict}`);
    await loadCases(); await openCase(result.case.id);
  } catch (err) { setStatus(err.message, true); }
}

async function loadCases() {
  const list = $("cases"); list.replaceChildren();
  try {
    const data = await api("/api/cases?limit=50");
    for (const c of data.cases) {
      const li = document.createElement("li");
      const name = document.createElement("span"); name.className = "name"; name.textContent = name.title = c.input_name;
      const tag = document.createElement("span"); tag.className = `tag ${c.verdict}`;
      tag.textContent = c.fake_probability == null ? c.verdict : `${c.verdict} ${c.fake_probability.toFixed(2)}`;
      const del = document.createElement("button"); del.textContent = "×"; del.title = "delete case";
      del.onclick = (e) => { e.stopPropagation(); removeCase(c); };
      li.append(name, tag, del); li.onclick = () => openCase(c.id); list.append(li);
    }
  } catch (err) { setStatus(err.message, true); }
}

async function removeCase(c) {
  // Deleting cannot be undone: ask first (a click alone, even a tricked one, deletes nothing).
  if (!window.confirm(`Delete the case "${c.input_name}"? This cannot be undone.`)) return;
  try {
    await api(`/api/cases/${c.id}`, { method: "DELETE" });
    if (current === c.id) { $("result").hidden = $("chat").hidden = true; current = null; }
  } catch (err) { setStatus(err.message, true); }
  loadCases();
}

async function showPicture() {
  // fetch() rather than <img src>, so the API key header goes along when one is set.
  const response = await fetch(`/api/cases/${current}/${view}.png`, { headers: headers() });
  if (response.ok) {
    const old = $("picture").src;
    $("picture").src = URL.createObjectURL(await response.blob());
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  }
  for (const b of document.querySelectorAll("#views button")) b.classList.toggle("on", b.dataset.view === view);
}

async function openCase(id) {
  const data = await api(`/api/cases/${id}`);
  current = id; const r = data.report;
  $("result").hidden = $("chat").hidden = false;
  $("verdict").textContent = r.verdict === "no_face" ? "NO FACE FOUND" : r.verdict.toUpperCase();
  $("verdict").className = r.verdict;
  const p = r.fake_probability;
  $("pbar").style.width = p == null ? "0" : `${Math.round(100 * p)}%`;
  const type = r.forgery_type && r.verdict === "fake" ? ` · most likely ${r.forgery_type.label.replaceAll("_", " ")}` : "";
  $("summary").textContent = p == null ? "" : `P(fake) ${versus(p, r.model.threshold)} (threshold ${r.model.threshold.toFixed(2)})${type} · ${r.faces.length} face(s) · ${r.model.detector}`;
  $("explanation").textContent = r.explanation;
  $("htmlreport").removeAttribute("href"); reportLink(id);
  showPicture(); drawRegions(r); drawStream(r); drawTimeline(r); drawForensics(r, id); drawChat(data.turns); showBackend(data.backend);
}

let linkTime = 0;
async function reportLink(id) {
  // A plain link cannot send the key header: the server signs one for this case (an hour).
  try {
    const link = await api(`/api/cases/${id}/report-link`);
    if (current === id) { $("htmlreport").href = link.url; linkTime = Date.now(); }
  } catch (err) { setStatus(err.message, true); }
}
$("htmlreport").onmouseenter = $("htmlreport").onfocus = () => {
  if (current && Date.now() - linkTime > 30 * 60 * 1000) reportLink(current);
};

function versus(p, threshold) {
  // Enough digits that a probability never reads as equal to the threshold it is judged by.
  let digits = 2;
  while (digits < 4 && p.toFixed(digits) === threshold.toFixed(digits)) digits++;
  return p.toFixed(digits);
}

function drawRegions(r) {
  const body = $("regions"); body.replaceChildren();
  if (!r.faces.length) return;
  const face = r.faces.reduce((a, b) => (b.fake_probability > a.fake_probability ? b : a));
  for (const region of face.regions) {
    const tr = document.createElement("tr");
    const cues = Object.entries(region.cues).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
    for (const [text, cls] of [[region.name.replaceAll("_", " "), ""], [region.score.toFixed(2), "num"], [cues, "muted"]]) {
      const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.append(td);
    }
    if (region.score >= 0.5) tr.style.fontWeight = "600";
    body.append(tr);
  }
}

// The opt-in pixel-level stream (report.faces[].forensic_stream): its score beside the
// detector's, or why it was not made, which is never evidence of real.
function drawStream(r) {
  const face = r.faces.length ? r.faces.reduce((a, b) => (b.fake_probability > a.fake_probability ? b : a)) : null;
  const s = face && face.forensic_stream;
  $("stream").hidden = !s; $("stream-map").hidden = true;
  if (!s) return;
  $("stream-line").textContent = streamLine(face, s);
  if (s.made && s.map && s.map.format === "png-base64") {
    $("stream-map").querySelector("img").src = `data:image/png;base64,${s.map.data}`;
    $("stream-map").hidden = false;
  }
}

function streamLine(face, s) {
  if (!s.made) return `Not made (${s.reason || "no reason given"}); this is not evidence of real.`;
  let text = s.probability != null ? `P(manipulated) ${s.probability.toFixed(2)} by ${s.model}` : `Made by ${s.model}, no score recorded`;
  const semantic = face.semantic_probability;
  if (semantic != null) {
    text += Math.abs(semantic - face.fake_probability) > 1e-6
      ? ` (detector ${semantic.toFixed(2)}, combined ${face.fake_probability.toFixed(2)})`
      : ` (detector ${semantic.toFixed(2)}; not combined: the verdict is the detector's alone)`;
  }
  if (s.moved && s.moved.length) {
    text += "; predicted displacement: " + s.moved.slice(0, 3).map((m) => `${m.region.replaceAll("_", " ")} about ${m.peak_px.toFixed(1)} px`).join(", ");
  } else if (s.moved) {
    const floor = s.motion_floor_px != null ? ` more than ${s.motion_floor_px.toFixed(1)} px` : "";
    text += `; no region predicted to have moved${floor}, which is not evidence that nothing was edited`;
  }
  return text + ".";
}

function drawTimeline(r) {
  const svg = $("timeline");
  if (!r.timeline || !r.timeline.length) { svg.hidden = true; return; }
  svg.hidden = false; svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg", w = svg.clientWidth || 600, h = 70, n = r.timeline.length;
  const x = (i) => (n === 1 ? w / 2 : 6 + (i * (w - 12)) / (n - 1)), y = (p) => h - 6 - p * (h - 12);
  const line = document.createElementNS(ns, "line");
  line.setAttribute("x1", 0); line.setAttribute("x2", w); line.setAttribute("y1", y(r.model.threshold)); line.setAttribute("y2", y(r.model.threshold));
  line.setAttribute("stroke", "#bbb"); line.setAttribute("stroke-dasharray", "4 3"); svg.append(line);
  r.timeline.forEach((f, i) => {
    if (f.fake_probability == null) return;
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(i)); dot.setAttribute("cy", y(f.fake_probability)); dot.setAttribute("r", 3);
    dot.setAttribute("fill", f.fake_probability >= r.model.threshold ? "#c0392b" : "#1e8449");
    const title = document.createElementNS(ns, "title"); title.textContent = `frame ${f.index} (${f.timestamp_s.toFixed(1)} s): ${f.fake_probability.toFixed(2)}`;
    dot.append(title); svg.append(dot);
  });
}

// The file checks of the upload (report.forensics): facts about the file, never a verdict.
const PROVENANCE = {
  trusted: "valid, and the signer is trusted",
  valid_untrusted: "intact, but the signer is not on a trust list (who signed it is a claim)",
  invalid: "present but invalid: the file or its credentials changed after signing, or were damaged",
  absent: "none: provenance unknown, not evidence of manipulation",
  unavailable: "not checked",
};
const SOFTWARE_KIND = { generator: " (an image generator)", editor: " (an image editor)" };

function drawForensics(r, id) {
  const f = r.forensics, rows = $("fx-rows");
  $("forensics").hidden = false; rows.replaceChildren(); clearMaps();
  $("fx-table").hidden = !f;
  if (!f) {
    $("fx-note").textContent = r.input.kind === "video"
      ? "The file checks (metadata, Content Credentials, JPEG, ELA and noise maps) are made for image files; this is a video."
      : "The file checks were not run for this input (a report from an older version, or they could not run: see its warnings).";
    return;
  }
  $("fx-note").textContent = "Facts about the file, not a verdict: metadata can be stripped or forged, most genuine photos carry no Content Credentials, and most shared photos have been re-compressed.";
  for (const [label, value] of forensicRows(f)) {
    const tr = document.createElement("tr"), th = document.createElement("th"), td = document.createElement("td");
    th.textContent = label; td.textContent = value; tr.append(th, td); rows.append(tr);
  }
  if (r.input.kind === "image") drawMaps(id);
}

function forensicRows(f) {
  const m = f.metadata, p = f.provenance, j = f.jpeg, rows = [];
  const blocks = [["EXIF", m.has_exif], ["XMP", m.has_xmp], ["IPTC", m.has_iptc]].filter(([, has]) => has).map(([name]) => name);
  rows.push(["Metadata", blocks.length ? blocks.join(", ") : "none in the file (stripped, or never written)"]);
  if (blocks.length) rows.push(["Camera", [m.camera_make, m.camera_model].filter(Boolean).join(" ") || "not named"]);
  const software = [m.software, m.creator_tool].filter(Boolean).join(" / ");
  if (software) rows.push(["Software", software + (SOFTWARE_KIND[m.software_kind] || "")]);
  if (m.date_original || m.date_modified) rows.push(["Taken / modified", `${m.date_original || "—"} / ${m.date_modified || "—"}`]);
  const term = m.digital_source_type;
  rows.push(["AI declared in the metadata", m.ai_declared ? `yes: ${term}` : term ? `no (source type ${term})` : "no (no IPTC digital source type)"]);
  if (m.generator_hints.length) rows.push(["Generator traces", m.generator_hints.join("; ")]);
  if (m.has_exif) rows.push(["GPS location", m.gps_present ? "present (coordinates not shown)" : "none"]);
  if (m.thumbnail) {
    const d = m.thumbnail_difference == null ? "" : ` (difference ${m.thumbnail_difference.toFixed(2)})`;
    rows.push(["EXIF thumbnail", m.thumbnail_mismatch ? `shows a different picture${d}` : m.thumbnail_mismatch === false ? `matches the image${d}` : "not compared"]);
  }
  let c2pa = PROVENANCE[p.state] || p.state;
  const who = [p.signer && `signed by ${p.signer}`, p.claim_generator && `made with ${p.claim_generator}`].filter(Boolean).join("; ");
  if (who) c2pa += ` (${who})`;
  if (p.reason) c2pa += `: ${p.reason}`;
  rows.push(["Content Credentials (C2PA)", c2pa]);
  const declared = p.actions.filter((a) => a.ai_source);
  if (declared.length) rows.push(["AI declared in the credentials", declared.map((a) => `${a.action} (${a.digital_source_type})`).join(", ")]);
  else if (p.actions.length) rows.push(["C2PA actions", `${p.actions.map((a) => a.action).join(", ")}; no AI source declared`]);
  if (!j.is_jpeg) rows.push(["JPEG", `not a JPEG (${m.format || "format unknown"})`]);
  else if (j.quality == null) rows.push(["JPEG", "its tables could not be read"]);
  else {
    rows.push(["JPEG", [`quality ≈ ${j.quality}`, j.standard_tables ? "standard libjpeg tables" : "custom tables", j.subsampling, j.progressive ? "progressive" : "baseline"].filter(Boolean).join(", ")]);
    rows.push(["Re-compression", j.double_compressed
      ? `yes${j.first_quality ? `, earlier save at about quality ${j.first_quality}` : ""} (re-saved, which is not by itself a sign of editing)`
      : j.double_compressed === false ? "no re-compression pattern found (only aligned re-saves are seen)" : "not tested"]);
  }
  const cm = f.copy_move;
  if (!cm) rows.push(["Copy-move (clone) check", "not run (opt-in: opendfa serve --copy-move)"]);
  else if (cm.detected) rows.push(["Copy-move (clone) check", `${cm.regions.length} region(s) appear twice: ${cm.regions.slice(0, 3).map((r) => `offset ${r.offset[0]}, ${r.offset[1]} px, ${r.pairs} matched points`).join("; ")} (repetitive content also repeats)`]);
  else rows.push(["Copy-move (clone) check", cm.keypoints ? `no region found twice (${cm.keypoints} keypoints)` : `could not be made${cm.warnings.length ? `: ${cm.warnings[0]}` : ""}`]);
  if (f.maps) {
    const at = f.maps.scale < 1 ? ` (on a copy downscaled to ${f.maps.width}x${f.maps.height})` : "";
    for (const [label, s] of [["ELA of the upload", f.maps.ela], ["Noise of the upload", f.maps.noise]]) {
      rows.push([label, `mean ${s.mean.toFixed(2)}, ${(100 * s.fraction_above).toFixed(1)} % above ${s.threshold.toFixed(2)}${at}`]);
    }
  }
  return rows;
}

let mapUrls = [];
function clearMaps() {
  for (const url of mapUrls) URL.revokeObjectURL(url);
  mapUrls = []; $("fx-maps").replaceChildren();
}
async function drawMaps(id) {
  // What the server offers as images and from what (it keeps no upload: see /maps).
  let offers;
  try { offers = await api(`/api/cases/${id}/maps`); } catch (err) { return; }
  const figures = [];
  for (const [name, title] of [["ela", "Error level analysis"], ["noise", "Noise residual"]]) {
    const offer = offers[name], figure = document.createElement("figure"), caption = document.createElement("figcaption");
    const head = document.createElement("b"); head.textContent = title;
    caption.append(head, `: ${offer.note}`); figure.className = name;
    if (offer.url) {
      const response = await fetch(offer.url, { headers: headers() });
      if (response.ok) {
        const img = document.createElement("img"); img.alt = `${title} (${offer.source.replaceAll("_", " ")})`;
        img.src = URL.createObjectURL(await response.blob()); mapUrls.push(img.src); figure.append(img);
      }
    }
    figure.append(caption); figures.push(figure);
  }
  if (current === id) $("fx-maps").replaceChildren(...figures);
}

function addMessage(role, text) {
  const div = document.createElement("div"); div.className = `msg ${role}`; div.textContent = text;
  $("chatlog").append(div); $("chatlog").scrollTop = $("chatlog").scrollHeight;
  return div;
}
function drawChat(turns) {
  $("chatlog").replaceChildren();
  for (const t of turns) addMessage(t.role, t.text);
  const box = document.querySelector(".suggest"); box.replaceChildren();
  for (const q of SUGGEST) { const b = document.createElement("button"); b.type = "button"; b.textContent = q; b.onclick = () => ask(q); box.append(b); }
}
function showBackend(name) {
  if (name) { $("backend").textContent = `answered by ${name}`; $("backend").title = name === "grounded" ? "built from the report's numbers" : "a model answering from the face"; }
}

// Server-sent events from a POST: fetch() and a stream reader (EventSource only does GET).
// Yields [event, data] pairs; data is parsed JSON.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}
async function streamAnswer(question, bubble) {
  if (!window.TextDecoderStream) {  // a browser that cannot read a stream: one plain answer
    return api(`/api/cases/${current}/chat`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question }) });
  }
  const response = await fetch(`/api/cases/${current}/chat/stream`, {
    method: "POST", headers: { ...headers(), "Content-Type": "application/json", Accept: "text/event-stream" }, body: JSON.stringify({ question }),
  });
  if (!response.ok || !response.body) {
    let detail = response.statusText;
    try { const body = await response.json(); detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); } catch (e) {}
    throw new Error(`${response.status}: ${detail}`);
  }
  let tokens = 0;
  for await (const [name, data] of events(response)) {
    if (name === "token") {
      tokens++; bubble.dataset.tokens = String(tokens);
      bubble.textContent += data.text; $("chatlog").scrollTop = $("chatlog").scrollHeight;
    } else if (name === "done") return data;
    else if (name === "error") throw new Error(data.detail);
  }
  throw new Error("the answer stopped before it was complete");
}
async function ask(question) {
  if (!current || !question.trim()) return;
  addMessage("user", question); $("question").value = "";
  const bubble = addMessage("assistant", ""); bubble.classList.add("pending"); bubble.dataset.tokens = "0";
  try {
    const reply = await streamAnswer(question, bubble);
    bubble.textContent = reply.answer; showBackend(reply.backend);
    if (reply.attachments.includes("mask")) { view = "mask"; showPicture(); }
    else if (reply.attachments.includes("overlay")) { view = "overlay"; showPicture(); }
    else if (reply.attachments.includes("ela") || reply.attachments.includes("noise")) $("forensics").scrollIntoView({ block: "start" });
  } catch (err) {
    bubble.textContent = `error: ${err.message}`; bubble.classList.add("error");
  } finally { bubble.classList.remove("pending"); bubble.dataset.done = "1"; }
}

$("drop").onclick = () => $("file").click();
$("drop").onkeydown = (e) => { if (e.key === "Enter") $("file").click(); };
$("file").onchange = () => upload($("file").files[0]);
$("drop").ondragover = (e) => { e.preventDefault(); $("drop").classList.add("over"); };
$("drop").ondragleave = () => $("drop").classList.remove("over");
$("drop").ondrop = (e) => { e.preventDefault(); $("drop").classList.remove("over"); upload(e.dataTransfer.files[0]); };
for (const b of document.querySelectorAll("#views button")) b.onclick = () => { view = b.dataset.view; showPicture(); };
$("ask").onsubmit = (e) => { e.preventDefault(); ask($("question").value); };
loadCases();
