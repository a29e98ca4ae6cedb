'use strict';
// JSON as servers other than the real one may write it. The fakes write
// compact JSON with their keys in the real platform's order, which is
// what chorusd's fast paths look for first; another implementation (or a
// proxy, or a later server version) may put spaces and newlines in it and
// its keys in another order. A fake given a style writes every payload so:
//
//   encodeJson(obj)                          JSON.stringify(obj), the default
//   encodeJson(obj, { pretty: true })        one space of indent, a newline per member
//   encodeJson(obj, { spaced: true })        ": " and ", " between members, one line
//   encodeJson(obj, { reorder: true })       every object's keys in reverse order
//   encodeJson(obj, { ascii: true })         non-ASCII as \uXXXX escapes (Python's json.dumps)
//   encodeJson(obj, { slashes: true })       "/" as "\/" (PHP's json_encode)
// The options combine ({ pretty: true, reorder: true }).

// OBJ with the keys of each object in it (at any depth) reversed.
function reversed(obj) {
  if (Array.isArray(obj)) return obj.map(reversed);
  if (!obj || typeof obj !== 'object') return obj;
  const out = {};
  for (const k of Object.keys(obj).reverse()) out[k] = reversed(obj[k]);
  return out;
}

// Compact JSON with a space after each colon and comma that is not
// inside a string.
function spacedOut(text) {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    out += c;
    if (inString) {
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === ':' || c === ',') {
      out += ' ';
    }
  }
  return out;
}

// Every character past ASCII as \uXXXX (a pair for one past U+FFFF), as
// Python's json.dumps writes by default, and (SLASHES) "/" as "\/", as PHP's
// json_encode does. Outside strings there is neither.
function escaped(text, { ascii, slashes }) {
  let out = text;
  if (ascii) out = out.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (slashes) out = out.replace(/\//g, '\\/');
  return out;
}

function encodeJson(obj, style) {
  if (!style) return JSON.stringify(obj);
  const value = style.reorder ? reversed(obj) : obj;
  let text;
  if (style.pretty) text = JSON.stringify(value, null, 1);
  else if (style.spaced) text = spacedOut(JSON.stringify(value));
  else text = JSON.stringify(value);
  return escaped(text, style);
}

module.exports = { encodeJson, reversed };
