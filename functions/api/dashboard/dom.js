// Tiny DOM helpers: build elements from data, never from HTML strings (API text is shown as text).

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('p.note', { id, text, attrs, on, dataset }, ...children): an element. `class` may also come in the
 * tag after a dot; `on` maps event names to listeners; children are nodes or strings (null skipped).
 */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  return decorate(el, props, children);
}

/** An SVG element, with attributes. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  append(el, children);
  return el;
}

function decorate(el, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'class') el.className = value;
    else if (key === 'on') for (const [event, listener] of Object.entries(value)) el.addEventListener(event, listener);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'hidden') el.hidden = true;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const byId = (id) => document.getElementById(id);

/**
 * A titled panel whose body is always in one of four states (loading, error, empty, ready), each with a
 * sentence saying so: a panel is never blank.
 */
export function panel(id, title, { wide = false, controls = null } = {}) {
  const body = h('div.panel-body');
  const heading = h('div.panel-head', {}, h('h2', { id: `${id}-title`, text: title }), controls);
  const el = h(`section.panel${wide ? '.wide' : ''}`, { id, 'aria-labelledby': `${id}-title`, dataset: { state: 'loading' } }, heading, body);
  const say = (state, cls, text) => {
    el.dataset.state = state;
    fill(body, h(`p.state.${cls}`, { text }));
  };
  return {
    el,
    body,
    loading: (text = 'Loading…') => say('loading', 'loading', text),
    error: (text) => say('error', 'error', text),
    empty: (text, ...extra) => {
      say('empty', 'empty', text);
      body.append(...extra);
    },
    show: (...nodes) => {
      el.dataset.state = 'ready';
      fill(body, ...nodes);
    },
  };
}
