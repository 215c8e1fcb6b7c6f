// The event stream (GET /v1/events/stream, server-sent events) read with fetch instead of
// EventSource, because EventSource cannot send an Authorization header. Frames also carry an
// "event: <type>" field, which this reader ignores (the type is in the JSON data); after a drop
// we resume with Last-Event-ID.

const RETRY_MS = 1000;

/** Follows events of `types`; calls onEvent(event) and onState("live" | "reconnecting"). Returns stop(). */
export function follow({ types, headers, onEvent, onState }) {
  let lastId = null;
  let stopped = false;
  let controller = null;

  const handle = (frame) => {
    let id = null;
    const data = [];
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue; // comments: ": connected", ": heartbeat"
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (id !== null) lastId = id;
    if (data.length) onEvent(JSON.parse(data.join("\n")));
  };

  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const h = { accept: "text/event-stream", ...headers() };
        if (lastId !== null) h["last-event-id"] = lastId;
        const res = await fetch(`/v1/events/stream?type=${encodeURIComponent(types.join(","))}`, {
          headers: h,
          signal: controller.signal,
          cache: "no-store",
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        let connected = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          if (!connected) {
            connected = true; // the server's first frame: it is subscribed from here on
            onState("live");
          }
          let cut;
          while ((cut = buffer.indexOf("\n\n")) !== -1) {
            handle(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
          }
        }
      } catch {
        // a network drop, an abort, or a refusal: wait and try again (unless stopped)
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();

  return () => {
    stopped = true;
    controller?.abort();
  };
}
