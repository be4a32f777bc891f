// The only way the dashboard makes DOM: elements and text nodes. Nothing from an event (a path,
// a referrer, a UTM value, a variant) can become markup, because no string is ever parsed as HTML.
export type Child = Node | string | number | null | undefined | false;
type Attr = string | number | boolean | null | undefined;
export type Attrs = Record<string, Attr | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== false && value != null) el.setAttribute(name, String(value));
  }
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `parent`. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
/** A unique id, to tie a <label> to its control. */
export const uid = (prefix: string): string => `${prefix}-${++ids}`;

/** A labelled control: <label for> + the control, in one wrapper. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  control.id ||= uid('f');
  const hintEl = hint ? h('small', { id: `${control.id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export function select(options: [value: string, label: string][], value: string, attrs: Attrs = {}): HTMLSelectElement {
  const el = h('select', attrs, ...options.map(([v, label]) => h('option', { value: v }, label)));
  el.value = value;
  return el;
}

/** A button copying the text of `box` (selected too, for Ctrl+C where the clipboard is refused), and what it did. */
export function copyButton(label: string, box: HTMLInputElement | HTMLTextAreaElement): [HTMLButtonElement, HTMLElement] {
  const copied = h('span', { class: 'muted', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      box.select();
      try {
        await navigator.clipboard.writeText(box.value);
        fill(copied, 'Copied.');
      } catch {
        fill(copied, 'Selected: press Ctrl+C (⌘C) to copy.');
      }
    },
  }, label);
  return [button, copied];
}
