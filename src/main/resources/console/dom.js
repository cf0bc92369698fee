// A tiny element builder: text goes in as text nodes, never as HTML, so nothing a model or a file says can inject markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let nextId = 0;
/** A labelled control: the label's for= points at the control. */
export function field(labelText, control, hint) {
  control.id = control.id || `f${++nextId}`;
  const parts = [h('label', { for: control.id }, labelText), control];
  if (hint) {
    const hintEl = h('div', { class: 'muted', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', {}, parts);
}

export function say(text) {
  document.getElementById('status').textContent = text;
}
