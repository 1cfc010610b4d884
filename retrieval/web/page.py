"""The single HTML page (inline CSS and JavaScript, no external assets)."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>retrieval: search pictures</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: white; padding: 14px 24px; }
  header h1 { margin: 0; font-size: 20px; }
  form, .bar { display: flex; gap: 8px; padding: 16px 24px 0; flex-wrap: wrap; align-items: center; }
  input[type=text] { flex: 1; min-width: 240px; padding: 9px; font-size: 16px; border: 1px solid #b8bfcc; border-radius: 6px; }
  button { padding: 9px 14px; font-size: 15px; border: 0; border-radius: 6px; background: #3257d6; color: white; cursor: pointer; }
  button.secondary { background: #dfe3ea; color: #1d2330; }
  #status { padding: 10px 24px; color: #5a6476; min-height: 1.2em; }
  #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 14px; padding: 8px 24px 24px; }
  .card { background: white; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 8px; border: 3px solid transparent; }
  .card.yes { border-color: #2e9e4f; } .card.no { border-color: #d0433a; opacity: .65; }
  .card img { width: 100%; aspect-ratio: 1; object-fit: contain; background: white; }
  .meta { font-size: 12px; color: #5a6476; display: flex; justify-content: space-between; margin: 4px 0; }
  .votes { display: flex; gap: 6px; } .votes button { flex: 1; padding: 5px; font-size: 13px; }
  .votes .y { background: #2e9e4f; } .votes .n { background: #d0433a; }
</style>
</head>
<body>
<header><h1>Search pictures</h1></header>
<form id="text-form">
  <input type="text" id="query" name="q" placeholder="Describe a picture, e.g. a red apple" autocomplete="off">
  <button type="submit" id="search">Search</button>
</form>
<form id="image-form">
  <label>or find pictures like this one: <input type="file" id="image" accept="image/*"></label>
  <button type="submit" class="secondary" id="search-image">Search by image</button>
</form>
<div class="bar"><button class="secondary" id="refine" type="button">Refine with my votes</button></div>
<div id="status"></div>
<div id="grid"></div>
<script>
const grid = document.getElementById('grid');
const statusLine = document.getElementById('status');
let votes = {};
let lastQuery = '';

function show(results, note) {
  grid.innerHTML = '';
  statusLine.textContent = note;
  for (const r of results) {
    const card = document.createElement('div');
    card.className = 'card' + (r.id in votes ? (votes[r.id] ? ' yes' : ' no') : '');
    card.dataset.id = r.id;
    const img = document.createElement('img');
    img.src = r.url; img.alt = r.name; img.loading = 'lazy';
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.innerHTML = '<span></span><span></span>';
    meta.children[0].textContent = r.name;
    meta.children[1].textContent = r.score.toFixed(3);
    const buttons = document.createElement('div');
    buttons.className = 'votes';
    for (const [label, value, cls] of [['yes', true, 'y'], ['no', false, 'n']]) {
      const b = document.createElement('button');
      b.textContent = label; b.className = cls; b.type = 'button';
      b.onclick = () => { votes[r.id] = value; card.className = 'card ' + (value ? 'yes' : 'no'); };
      buttons.appendChild(b);
    }
    card.append(img, meta, buttons);
    grid.appendChild(card);
  }
}

async function call(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) { throw new Error(typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)); }
  return body;
}

document.getElementById('text-form').onsubmit = async (event) => {
  event.preventDefault();
  const q = document.getElementById('query').value.trim();
  if (!q) { statusLine.textContent = 'Type a description first.'; return; }
  lastQuery = q; votes = {};
  try {
    const body = await call('/api/search?k=24&q=' + encodeURIComponent(q));
    show(body.results, body.results.length + ' pictures for "' + q + '"');
  } catch (e) { statusLine.textContent = 'Error: ' + e.message; }
};

document.getElementById('image-form').onsubmit = async (event) => {
  event.preventDefault();
  const file = document.getElementById('image').files[0];
  if (!file) { statusLine.textContent = 'Choose an image first.'; return; }
  const data = new FormData(); data.append('file', file);
  lastQuery = ''; votes = {};
  try {
    const body = await call('/api/search/image?k=24', {method: 'POST', body: data});
    show(body.results, body.results.length + ' pictures like ' + file.name);
  } catch (e) { statusLine.textContent = 'Error: ' + e.message; }
};

document.getElementById('refine').onclick = async () => {
  try {
    const body = await call('/api/feedback', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({query: lastQuery, votes: votes, k: 24})});
    show(body.ranking, 'Refined with ' + Object.keys(votes).length + ' votes');
  } catch (e) { statusLine.textContent = 'Error: ' + e.message; }
};
</script>
</body>
</html>
"""
