// Reference spans in an article body. The API counts offsets in Unicode code points; JS strings
// count UTF-16 units (an emoji is 2), so the body is handled as an array of code points here and
// selections are measured with Array.from(text).length, never text.length.

/**
 * Renders `body` into `root` with one <mark> per span, nested where spans nest. Spans that
 * overlap without nesting cannot be one element each, so the later one is split into parts that
 * share data-ref (joined, their text is the span's text). `makeMark(span, part)` builds a mark.
 */
export function renderBody(root, body, spans, makeMark) {
  const cps = Array.from(body ?? "");
  const valid = spans.filter((s) => s.start >= 0 && s.start < s.end && s.end <= cps.length);
  const points = [...new Set([0, cps.length, ...valid.flatMap((s) => [s.start, s.end])])].sort((a, b) => a - b);
  const starting = new Map();
  for (const s of valid) {
    if (!starting.has(s.start)) starting.set(s.start, []);
    starting.get(s.start).push(s);
  }
  for (const list of starting.values()) list.sort((a, b) => b.end - a.end); // longest outermost

  root.replaceChildren();
  const stack = []; // the spans covering the current position, outermost first
  const parts = new Map();
  const top = () => (stack.length ? stack[stack.length - 1].node : root);
  const open = (span) => {
    const part = parts.get(span) ?? 0;
    parts.set(span, part + 1);
    const node = makeMark(span, part);
    top().append(node);
    stack.push({ span, node });
  };
  points.forEach((p, i) => {
    const outermost = stack.findIndex((e) => e.span.end === p);
    if (outermost !== -1) {
      // Closing a span closes everything inside it; the inner spans that go on reopen as new parts.
      for (const e of stack.splice(outermost)) if (e.span.end !== p) open(e.span);
    }
    for (const s of starting.get(p) ?? []) open(s);
    if (i + 1 < points.length) top().append(document.createTextNode(cps.slice(p, points[i + 1]).join("")));
  });
}

/** The selection inside `root` as code-point offsets into the text of root, or null. */
export function selectionOffsets(root) {
  const selection = document.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!root.contains(range.startContainer) || !root.contains(range.endContainer)) return null;
  const before = document.createRange();
  before.setStart(root, 0);
  before.setEnd(range.startContainer, range.startOffset);
  const text = range.toString();
  if (!text.trim()) return null;
  const start = Array.from(before.toString()).length;
  return { start, end: start + Array.from(text).length, text };
}
