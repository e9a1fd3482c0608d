/**
 * The few values read from S3's XML answers (`<Code>`, `<UploadId>`, `<Upload>` entries). S3's
 * answers are flat and machine-made, so a tag match is enough; no XML library for four tags.
 */
import { decodeEntities } from "../classify.ts";

/** Every `<tag>…</tag>` text in `xml`, decoded, in order. */
export function xmlValues(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  return Array.from(xml.matchAll(re), (m) => decodeEntities(m[1] ?? ""));
}

/** The first `<tag>…</tag>` text in `xml`, decoded, or null. */
export function xmlValue(xml: string, tag: string): string | null {
  return xmlValues(xml, tag)[0] ?? null;
}

/** Escapes text for an XML element. */
export function xmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`,
  );
}
