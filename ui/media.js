// Media in traces and dataset items: Langfuse's reference strings (files uploaded out of band),
// data URIs and URLs, shown as images, players or links.
import { ctx } from "/ui/context.js";
import { h } from "/ui/dom.js";

export const MEDIA_REF = /@@@langfuseMedia:type=([^|@]+)\|id=([A-Za-z0-9_-]+)\|source=[^@]*@@@/g;

// A shared trace read signed out: its files' signed links, by media id (query_api.shares_api).
let sharedLinks = null;
export function useSharedMedia(links) {
  sharedLinks = links;
}

function mediaSource(value) {
  const ref = [...String(value).matchAll(MEDIA_REF)][0];
  if (ref) {
    if (sharedLinks) return sharedLinks[ref[2]] ? { url: sharedLinks[ref[2]], type: ref[1] } : null;
    const project = ctx.project ? `?project=${encodeURIComponent(ctx.project.id)}` : "";
    return { url: `/api/v1/media/${encodeURIComponent(ref[2])}${project}`, type: ref[1] };
  }
  const data = String(value).match(/^data:([\w.+-]+\/[\w.+-]+);base64,/);
  if (data) return { url: value, type: data[1] };
  if (/^https?:\/\//.test(value)) return { url: value, type: "" };
  return null; // never javascript: or anything else a browser would run
}

export function mediaElement(value, type = "", label = "") {
  const source = mediaSource(value);
  if (!source) return h("span", { class: "muted", text: `[${label || type || "media"}]` });
  const kind = source.type || type;
  if (kind.startsWith("image/") || (!kind && label === "image")) {
    return h("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", class: "media" },
      h("img", { src: source.url, alt: label || "image", loading: "lazy", class: "media-image" }));
  }
  if (kind.startsWith("audio/") || label === "audio") return h("audio", { controls: true, src: source.url, class: "media" });
  if (kind.startsWith("video/") || label === "video") return h("video", { controls: true, src: source.url, class: "media" });
  return h("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", class: "media file",
    text: `${kind || label || "file"} ↗` });
}

// Text with reference strings in it: the text, and each file where its reference stood.
export function textWithMedia(text, cls) {
  const pieces = [];
  let last = 0;
  for (const m of String(text).matchAll(MEDIA_REF)) {
    if (m.index > last) pieces.push(text.slice(last, m.index));
    pieces.push(mediaElement(m[0], m[1]));
    last = m.index + m[0].length;
  }
  if (!pieces.length) return h("div", { class: cls, text });
  if (last < text.length) pieces.push(text.slice(last));
  return h("div", { class: cls }, ...pieces);
}

// Text with each reference string cut to its file's type ("[image/png]"): the files show beside it.
export function withoutRefs(text) {
  return String(text).replace(MEDIA_REF, (m, type) => `[${type}]`);
}

// A table cell's text, with the files its references name shown under it.
export function cellWithMedia(text, cls) {
  const refs = [...String(text).matchAll(MEDIA_REF)];
  if (!refs.length) return h("td", { class: cls, text });
  return h("td", { class: cls }, h("div", { text: withoutRefs(text) }),
    h("div", { class: "media-strip" }, ...refs.map((m) => mediaElement(m[0], m[1]))));
}
