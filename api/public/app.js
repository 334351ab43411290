// Lookalike's page: a photo (chosen, dropped or pasted, resized here to ≤ 512 px JPEG before upload) or an image
// URL, with filters, against POST /v1/search; "more like this" uses GET /v1/products/:id/similar.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const results = $('results');
  let lastQuery = null; // { blob } or { url }

  function say(text, isError) {
    status.textContent = text;
    status.className = 'status' + (isError ? ' error' : '');
  }

  function filters() {
    const form = new FormData($('filters'));
    const list = (name) => String(form.get(name) || '').split(',').map((s) => s.trim()).filter(Boolean);
    const out = {};
    const gte = form.get('gte'), lte = form.get('lte');
    if (gte !== '' || lte !== '') {
      out.price = {};
      if (gte !== '') out.price.gte = Number(gte);
      if (lte !== '') out.price.lte = Number(lte);
    }
    for (const name of ['sizes', 'brand', 'category']) if (list(name).length) out[name] = list(name);
    if (form.get('available')) out.available = true;
    return out;
  }

  // Resize on the client: the longest side at most 512 px, JPEG 0.85 (smaller uploads, the same results).
  function resize(file) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, 512 / Math.max(img.naturalWidth, img.naturalHeight));
        const canvas = document.createElement('canvas');
        canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(img.src);
        canvas.toBlob((blob) => (blob ? resolve({ blob, width: canvas.width, height: canvas.height }) : reject(new Error('cannot encode'))), 'image/jpeg', 0.85);
      };
      img.onerror = () => reject(new Error('this file is not an image the browser can read'));
      img.src = URL.createObjectURL(file);
    });
  }

  function showPreview(src, size) {
    $('preview').hidden = false;
    $('preview-img').src = src;
    $('preview-img').dataset.w = size ? size.width : '';
    $('preview-img').dataset.h = size ? size.height : '';
    $('crop').hidden = true;
  }

  function drawCrop(crop) {
    const img = $('preview-img');
    const box = $('crop');
    const w = Number(img.dataset.w) || img.naturalWidth;
    const h = Number(img.dataset.h) || img.naturalHeight;
    if (!crop || !w || !h) { box.hidden = true; return; }
    const sx = img.clientWidth / w, sy = img.clientHeight / h;
    Object.assign(box.style, { left: crop.left * sx + 'px', top: crop.top * sy + 'px', width: crop.width * sx + 'px', height: crop.height * sy + 'px' });
    box.hidden = false;
  }

  // The `match` verdict is about the first result only: is it the product photographed? The others are similar items.
  const VERDICTS = {
    good: 'Best match: very likely the product in your photo.',
    weak: 'Closest match: it looks like your photo, but may not be the same product.',
    none: 'Probably not in the catalog. The most similar items:',
  };

  function text(tag, className, content) {
    const element = document.createElement(tag);
    element.className = className;
    element.textContent = content;
    return element;
  }

  // `similarTo`: the title of the product whose look-alikes these are ("more like this"), not a photo's results.
  function render(body, similarTo) {
    results.replaceChildren();
    const n = body.results.length;
    const message = n === 0 ? 'Nothing in the catalog matches these filters.' : similarTo ? 'More like ' + similarTo + ':' : VERDICTS[body.match];
    const verdict = text('p', 'verdict', '');
    if (!similarTo) verdict.dataset.match = body.match;
    verdict.append(text('span', 'message', message), ' ', text('span', 'count', n + (n === 1 ? ' result' : ' results') + ' in ' + Math.round(body.timings_ms.total) + ' ms'));
    results.append(verdict);
    // A first result that is (or may be) the product photographed stands alone, ahead of the similar items.
    const bestFirst = !similarTo && body.match !== 'none' && n > 1;
    for (const r of body.results) {
      const p = r.product;
      const card = document.createElement('article');
      card.className = 'card';
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.alt = p.title || r.id;
      img.src = p.image_url;
      const inner = document.createElement('div');
      inner.className = 'body';
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = p.title || r.id;
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = [p.brand, p.price != null ? p.price.toFixed(2) + ' ' + (p.currency || '') : null, p.sizes && p.sizes.length ? 'sizes ' + p.sizes.join(' ') : null, 'score ' + r.score.toFixed(3)].filter(Boolean).join(' · ');
      const badge = document.createElement('span');
      badge.className = 'badge ' + (p.available ? 'in' : 'out');
      badge.textContent = p.available ? 'in stock' : 'out of stock';
      const more = document.createElement('button');
      more.type = 'button';
      more.textContent = 'More like this';
      more.addEventListener('click', () => similar(r.id, p));
      inner.append(title, meta, badge);
      card.append(img, inner, more);
      results.append(card);
      if (bestFirst && r === body.results[0]) results.append(text('p', 'group', 'Similar items'));
    }
  }

  async function handle(response, similarTo) {
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      say(body && body.error ? body.error.message + ' (' + body.error.code + ')' : 'error ' + response.status, true);
      return null;
    }
    say('');
    render(body, similarTo);
    return body;
  }

  async function search() {
    if (!lastQuery) return;
    say('Searching…');
    try {
      let response;
      if (lastQuery.blob) {
        const form = new FormData();
        form.append('image', lastQuery.blob, 'photo.jpg');
        form.append('query', JSON.stringify({ k: 24, filters: filters() }));
        response = await fetch('/v1/search', { method: 'POST', body: form });
      } else {
        response = await fetch('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_url: lastQuery.url, k: 24, filters: filters() }) });
      }
      const body = await handle(response);
      if (body) drawCrop(body.query.crop);
    } catch (error) {
      say('The search failed: ' + error.message, true);
    }
  }

  async function similar(id, product) {
    say('Searching…');
    showPreview(product.image_url, null);
    lastQuery = null;
    const query = new URLSearchParams({ k: '24', filters: JSON.stringify(filters()) });
    await handle(await fetch('/v1/products/' + encodeURIComponent(id) + '/similar?' + query), product.title || id);
  }

  async function useFile(file) {
    if (!file) return;
    try {
      const resized = await resize(file);
      lastQuery = { blob: resized.blob };
      showPreview(URL.createObjectURL(resized.blob), resized);
      await search();
    } catch (error) {
      say(error.message, true);
    }
  }

  $('file').addEventListener('change', (e) => useFile(e.target.files[0]));
  const drop = $('drop');
  drop.addEventListener('click', (e) => { if (e.target === drop) $('file').click(); });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') $('file').click(); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); useFile(e.dataTransfer.files[0]); });
  document.addEventListener('paste', (e) => {
    const item = [...e.clipboardData.items].find((i) => i.type.startsWith('image/'));
    if (item) useFile(item.getAsFile());
  });
  $('url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $('url').value.trim();
    if (!url) return;
    lastQuery = { url };
    showPreview(url, null);
    search();
  });
  $('filters').addEventListener('change', () => search());
})();
