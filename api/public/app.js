// Lookalike's page: a photo (chosen, dropped or pasted, resized here to ≤ 512 px JPEG before upload) or an image
// URL, with filters, against POST /v1/search; "more like this" uses GET /v1/products/:id/similar. A photo is searched
// with `objects: true`: a box on each object found (boxes.js), a click on one shows its results, and a box the
// shopper draws is searched with `box`. Results on screen keep their `query_id`: "load more" asks for the next page
// (`cursor`), "less like this" runs the query again with that product in `unlike`. A catalog can be chosen when
// GET /v1/catalogs lists more than one.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const results = $('results');
  let lastQuery = null; // { blob } or { url }: the photo the boxes are on
  // The regions the boxes show: [{ box, name, drawn?, body: { results, match, timings_ms } | null }].
  let regions = [];
  let selected = -1;
  // The results on screen: their query (null for an object's, which has none), the next page and what was unliked.
  let current = null;
  // Bumped by every search and selection: an answer that arrives after a newer one was asked for is dropped.
  let turn = 0;
  const boxes = window.createBoxes({
    preview: $('preview'),
    image: $('preview-img'),
    canDraw: () => Boolean(lastQuery),
    onSelect: (i) => choose(i),
    onDraw: (box) => searchBox(box),
  });

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

  /** The precision stage when the shopper asks for it (`rerank`), as search options. */
  function precision() {
    return $('filters').elements.rerank.checked ? { rerank: true } : {};
  }

  /** The catalog chosen, as search options ({} when there is nothing to choose). */
  function catalog() {
    return $('catalog-field').hidden ? {} : { catalog: $('catalog').value };
  }

  // The catalogs this page may search; a choice appears only when there is one to make.
  fetch('/v1/catalogs').then((response) => (response.ok ? response.json() : null)).then((body) => {
    const catalogs = body ? body.catalogs : [];
    if (catalogs.length < 2) return;
    for (const c of catalogs) {
      const option = document.createElement('option');
      option.value = c.name;
      option.textContent = c.name + ' (' + c.products + ')';
      $('catalog').append(option);
    }
    $('catalog').value = catalogs.some((c) => c.name === 'default') ? 'default' : catalogs[0].name;
    $('catalog-field').hidden = false;
  }, () => undefined);

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
    regions = [];
    selected = -1;
    boxes.clear();
    $('box-hint').hidden = !lastQuery;
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

  /**
   * A product's photos on its card: the one that matched large (`matched_image`), and below it every photo as a
   * thumbnail (the matched one marked); a thumbnail shown large on a click.
   */
  function photos(r, p) {
    const images = p.images && p.images.length ? p.images : [p.image_url];
    const matched = images[r.matched_image] !== undefined ? r.matched_image : 0;
    const img = document.createElement('img');
    img.className = 'photo';
    img.loading = 'lazy';
    img.alt = (p.title || r.id) + (images.length > 1 ? ' (photo ' + (matched + 1) + ' of ' + images.length + ', the one that matched)' : '');
    img.src = images[matched];
    if (images.length < 2) return { img, thumbs: null };
    const thumbs = document.createElement('div');
    thumbs.className = 'thumbs';
    images.forEach((url, i) => {
      const thumb = document.createElement('button');
      thumb.type = 'button';
      thumb.className = 'thumb' + (i === matched ? ' matched shown' : '');
      thumb.title = i === matched ? 'Photo ' + (i + 1) + ': the one that matched' : 'Photo ' + (i + 1);
      const small = document.createElement('img');
      small.loading = 'lazy';
      small.alt = thumb.title;
      small.src = url;
      thumb.append(small);
      thumb.addEventListener('click', () => {
        img.src = url;
        for (const other of thumbs.children) other.classList.toggle('shown', other === thumb);
      });
      thumbs.append(thumb);
    });
    return { img, thumbs };
  }

  /** One result's card: "more like this", and "less like this" where the results have a query to run again. */
  function card(r) {
    const p = r.product;
    const card = document.createElement('article');
    card.className = 'card';
    card.dataset.id = r.id;
    const { img, thumbs } = photos(r, p);
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
    card.append(img);
    if (thumbs) card.append(thumbs);
    card.append(inner, more);
    if (current && current.queryId) {
      const less = document.createElement('button');
      less.type = 'button';
      less.className = 'less';
      less.textContent = 'Less like this';
      less.addEventListener('click', () => lessLike(r.id));
      card.append(less);
    }
    return card;
  }

  const countText = (n, ms) => n + (n === 1 ? ' result' : ' results') + ' in ' + Math.round(ms) + ' ms';

  // `similarTo`: the title of the product whose look-alikes these are ("more like this"), not a photo's results.
  // `unlike`: the products the shopper asked for less of, for the next "less like this".
  function render(body, similarTo, unlike) {
    results.replaceChildren();
    current = { queryId: body.query_id || null, cursor: body.next_cursor || null, similarTo, unlike: unlike || [], count: body.results.length, ms: body.timings_ms.total };
    const n = body.results.length;
    const message = n === 0 ? 'Nothing in the catalog matches these filters.' : similarTo ? 'More like ' + similarTo + ':' : VERDICTS[body.match];
    const verdict = text('p', 'verdict', '');
    if (!similarTo) verdict.dataset.match = body.match;
    verdict.append(text('span', 'message', message), ' ', text('span', 'count', countText(n, body.timings_ms.total)));
    results.append(verdict);
    // A first result that is (or may be) the product photographed stands alone, ahead of the similar items.
    const bestFirst = !similarTo && body.match !== 'none' && n > 1;
    for (const r of body.results) {
      results.append(card(r));
      if (bestFirst && r === body.results[0]) results.append(text('p', 'group', 'Similar items'));
    }
    moreButton();
  }

  /** "Load more" after the cards, while the query has a next page. */
  function moreButton() {
    if (!current.queryId || !current.cursor) return;
    const button = text('button', 'load-more', 'Load more');
    button.type = 'button';
    button.addEventListener('click', loadMore);
    results.append(button);
  }

  const postJson = (body) => fetch('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  // The next page of the results on screen, appended; its options travel in the cursor.
  async function loadMore() {
    const state = current;
    const mine = turn;
    results.querySelector('.load-more').disabled = true;
    say('Loading more…');
    const body = await read(await postJson({ query_id: state.queryId, cursor: state.cursor, k: 24 }));
    if (mine !== turn || state !== current || !body) return;
    say('');
    results.querySelector('.load-more').remove();
    for (const r of body.results) results.append(card(r));
    state.cursor = body.next_cursor;
    state.count += body.results.length;
    results.querySelector('.verdict .count').textContent = countText(state.count, state.ms);
    moreButton();
  }

  // "Less like this": the same query again, steered away from this product (and those unliked before), which leaves.
  async function lessLike(id) {
    const state = current;
    const mine = ++turn;
    const unlike = state.unlike.concat(id);
    say('Searching…');
    const body = await read(await postJson(Object.assign({ query_id: state.queryId, k: 24, filters: filters(), unlike: unlike.map((productId) => ({ product_id: productId })) }, catalog(), precision())));
    if (mine !== turn || !body) return;
    say('');
    render(body, state.similarTo, unlike);
  }

  /** The body of a successful answer; otherwise says what went wrong and gives null. */
  async function read(response) {
    const body = await response.json().catch(() => null);
    if (response.ok) return body;
    say(body && body.error ? body.error.message + ' (' + body.error.code + ')' : 'error ' + response.status, true);
    return null;
  }

  /** POST /v1/search of the current photo with these options (besides k and the filters). */
  function post(options) {
    const query = Object.assign({ k: 24, filters: filters() }, catalog(), precision(), options);
    if (lastQuery.blob) {
      const form = new FormData();
      form.append('image', lastQuery.blob, 'photo.jpg');
      form.append('query', JSON.stringify(query));
      return fetch('/v1/search', { method: 'POST', body: form });
    }
    return fetch('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.assign({ image_url: lastQuery.url }, query)) });
  }

  const sameBox = (a, b) => Boolean(a && b) && a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;

  /** Shows region i: its box selected, its results below. */
  function choose(i) {
    turn++;
    selected = i;
    boxes.select(i);
    const region = regions[i];
    if (region.body) {
      say('');
      render(region.body);
    } else searchBox(region.box);
  }

  // The photo searched again (a new photo, or new filters): every object with its results, the main one shown; a box
  // the shopper drew stays, searched again too, and stays shown if it was.
  async function search() {
    if (!lastQuery) return;
    const mine = ++turn;
    const drawn = regions.find((region) => region.drawn);
    const keepDrawn = drawn && regions[selected] === drawn;
    say('Searching…');
    try {
      const [body, drawnBody] = await Promise.all([post({ objects: true }).then(read), keepDrawn ? post({ box: drawn.box }).then(read) : null]);
      if (mine !== turn || !body) return;
      const found = (body.objects || []).map((object, i) => ({ box: object.box, name: object.label || 'object ' + (i + 1), body: { results: object.results, match: object.match, timings_ms: body.timings_ms } }));
      // The main object is the one the top-level results are for; a server that lists no objects has the crop alone.
      let main = found.findIndex((region) => sameBox(region.box, body.query.crop));
      if (main < 0 && !found.length && body.query.crop) found.push({ box: body.query.crop, name: 'object 1', body });
      if (main < 0) main = 0;
      // The main object's results are the top-level ones: their query pages and steers.
      if (found[main] && sameBox(found[main].box, body.query.crop)) Object.assign(found[main].body, { query_id: body.query_id, next_cursor: body.next_cursor });
      if (drawn) found.push({ box: drawn.box, name: drawn.name, drawn: true, body: drawnBody });
      regions = found;
      selected = keepDrawn && drawnBody ? found.length - 1 : found.length ? main : -1;
      boxes.show(regions, selected);
      say('');
      render(selected >= 0 ? regions[selected].body : body);
    } catch (error) {
      if (mine === turn) say('The search failed: ' + error.message, true);
    }
  }

  // The box the shopper drew (image pixels) searched on its own, shown as the selected box; it replaces an earlier one.
  async function searchBox(box) {
    if (!lastQuery) return;
    const mine = ++turn;
    const region = { box, name: 'your box', drawn: true, body: null };
    regions = regions.filter((other) => !other.drawn).concat(region);
    selected = regions.length - 1;
    boxes.show(regions, selected);
    say('Searching…');
    try {
      const body = await read(await post({ box }));
      if (mine !== turn || !body) return;
      region.body = body;
      say('');
      render(body);
    } catch (error) {
      if (mine === turn) say('The search failed: ' + error.message, true);
    }
  }

  async function similar(id, product) {
    const mine = ++turn;
    say('Searching…');
    lastQuery = null;
    showPreview(product.image_url, null);
    const query = new URLSearchParams(Object.assign({ k: '24', filters: JSON.stringify(filters()) }, catalog(), precision()));
    const body = await read(await fetch('/v1/products/' + encodeURIComponent(id) + '/similar?' + query));
    if (mine !== turn || !body) return;
    say('');
    render(body, product.title || id);
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
  for (const target of [drop, $('preview')]) {
    target.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    target.addEventListener('dragleave', () => drop.classList.remove('over'));
    target.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); useFile(e.dataTransfer.files[0]); });
  }
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
