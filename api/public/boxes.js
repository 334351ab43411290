// The boxes over the photo preview: a button per region (each object the search found, the box the shopper drew),
// and drawing a new box by dragging on the photo with a mouse, pen or finger. Boxes are in the image's pixels — the
// uploaded image that app.js resized (img.dataset.w/h), else the image itself — and are placed in percent of the
// preview, which is exactly the photo's size on screen, so they follow it through any resize with no script running.
'use strict';
window.createBoxes = function createBoxes({ preview, image, canDraw, onSelect, onDraw }) {
  const layer = preview.querySelector('.boxes');
  const band = preview.querySelector('.band');
  // Smaller than this on screen (CSS px a side) is a tap that slid, not a box; the API's own minimum is 8 image px.
  const MIN_DRAG_PX = 16;
  const MIN_BOX_PX = 8;
  // How far the pointer moves before a press becomes a drag (a click on a box below stays a click).
  const DRAG_START_PX = 6;
  let regions = [];
  let drag = null;
  let swallowClick = false;

  function imageSize() {
    return { width: Number(image.dataset.w) || image.naturalWidth, height: Number(image.dataset.h) || image.naturalHeight };
  }

  /** CSS px per image px, or null while the image is not displayed. */
  function scale() {
    const size = imageSize();
    if (!size.width || !size.height || !image.clientWidth) return null;
    return { x: image.clientWidth / size.width, y: image.clientHeight / size.height };
  }

  function place(element, box, k) {
    Object.assign(element.style, { left: box.left * k.x + 'px', top: box.top * k.y + 'px', width: box.width * k.x + 'px', height: box.height * k.y + 'px' });
  }

  /** A region's box in percent of the photo (and so of the preview around it). */
  function placeRegion(element, box) {
    const size = imageSize();
    const percent = (value, of) => (100 * value) / of + '%';
    Object.assign(element.style, { left: percent(box.left, size.width), top: percent(box.top, size.height), width: percent(box.width, size.width), height: percent(box.height, size.height) });
  }

  function layout() {
    const k = scale();
    layer.hidden = !k;
    if (k) regions.forEach((region, i) => placeRegion(layer.children[i], region.box));
  }

  /** Shows `list` ([{ box, name, drawn? }]) as buttons, `selected` highlighted. */
  function show(list, selected) {
    regions = list;
    // Smaller boxes above bigger ones, so a box inside another stays clickable; the order in the page (and of Tab)
    // stays the list's: most confident first.
    const byArea = list.map((region, i) => i).sort((a, b) => list[b].box.width * list[b].box.height - list[a].box.width * list[a].box.height);
    layer.replaceChildren(
      ...list.map((region, i) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'object-box' + (region.drawn ? ' drawn' : '');
        button.dataset.index = String(i);
        button.style.zIndex = String(1 + byArea.indexOf(i));
        button.setAttribute('aria-label', region.name + ': show its results');
        const label = document.createElement('span');
        label.className = 'label';
        label.textContent = region.name;
        button.append(label);
        button.addEventListener('click', () => onSelect(i));
        return button;
      }),
    );
    select(selected);
    layout();
  }

  function select(selected) {
    [...layer.children].forEach((button, i) => {
      button.classList.toggle('selected', i === selected);
      button.setAttribute('aria-pressed', String(i === selected));
    });
  }

  /** The pointer's position on the image, in CSS px, kept inside it. */
  function pointOf(event) {
    const rect = image.getBoundingClientRect();
    return { x: Math.min(Math.max(event.clientX - rect.left, 0), rect.width), y: Math.min(Math.max(event.clientY - rect.top, 0), rect.height) };
  }

  function dragged() {
    return { left: Math.min(drag.x0, drag.x), top: Math.min(drag.y0, drag.y), width: Math.abs(drag.x - drag.x0), height: Math.abs(drag.y - drag.y0) };
  }

  function stopDrag() {
    if (drag && drag.drawing && preview.hasPointerCapture(drag.id)) preview.releasePointerCapture(drag.id);
    drag = null;
    band.hidden = true;
  }

  preview.addEventListener('pointerdown', (event) => {
    swallowClick = false;
    if (!event.isPrimary || event.button !== 0 || !scale() || !canDraw()) return;
    const point = pointOf(event);
    drag = { id: event.pointerId, x0: point.x, y0: point.y, x: point.x, y: point.y, drawing: false };
  });
  preview.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    Object.assign(drag, pointOf(event));
    if (!drag.drawing && Math.hypot(drag.x - drag.x0, drag.y - drag.y0) >= DRAG_START_PX) {
      drag.drawing = true;
      preview.setPointerCapture(drag.id);
      band.hidden = false;
    }
    if (drag.drawing) place(band, dragged(), { x: 1, y: 1 });
  });
  preview.addEventListener('pointerup', (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const { drawing } = drag;
    const shown = dragged();
    stopDrag();
    if (!drawing) return;
    // The click that ends a drag is not a click on the box under it.
    swallowClick = true;
    const k = scale();
    if (!k || shown.width < MIN_DRAG_PX || shown.height < MIN_DRAG_PX) return;
    const size = imageSize();
    const left = Math.floor(shown.left / k.x);
    const top = Math.floor(shown.top / k.y);
    const box = { left, top, width: Math.min(size.width, Math.ceil((shown.left + shown.width) / k.x)) - left, height: Math.min(size.height, Math.ceil((shown.top + shown.height) / k.y)) - top };
    if (box.width >= MIN_BOX_PX && box.height >= MIN_BOX_PX) onDraw(box);
  });
  preview.addEventListener('pointercancel', stopDrag);
  preview.addEventListener('click', (event) => {
    if (!swallowClick) return;
    swallowClick = false;
    event.stopPropagation();
    event.preventDefault();
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !drag) return;
    swallowClick = drag.drawing;
    stopDrag();
  });
  new window.ResizeObserver(layout).observe(image);

  return { show, select, layout, clear: () => show([], -1) };
};
