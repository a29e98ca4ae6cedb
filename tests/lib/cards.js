'use strict';
// Character cards built in the test, in every wrapping chorusd reads:
//
//   cardJson({ name: 'Aiko', description: '...' })          // V3 JSON object ({ spec, spec_version, data })
//   cardJson({ name: 'Aiko' }, 'chara_card_v2')             // V2
//   pngCard({ chara: v2obj, ccv3: v3obj })                  // a real 1x1 PNG with tEXt chunks (base64 JSON)
//   pngCard({ chara: 'not base64!' })                       // raw chunk text, for hostile cards
//   charx(v3obj)                                            // a CHARX zip: card.json (deflated) + an asset
//   charx(null, { bomb: 20 << 20, claim: 100 })              // a zip bomb: 20 MB of zeros claiming 100 bytes
//
// Built byte by byte from the PNG and zip specifications, so no binary
// fixtures live in the repository.

const zlib = require('node:zlib');

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function cardJson(fields, spec = 'chara_card_v3') {
  const data = {
    name: 'Aiko', description: '', personality: '', scenario: '', first_mes: '', mes_example: '',
    creator_notes: '', system_prompt: '', post_history_instructions: '', alternate_greetings: [],
    tags: [], creator: 'tests', character_version: '1', extensions: {}, ...fields,
  };
  return { spec, spec_version: spec === 'chara_card_v3' ? '3.0' : '2.0', data };
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// A 1x1 RGBA PNG with a tEXt chunk for each of chara/ccv3 given (objects are JSON-encoded, then base64).
function pngCard({ chara, ccv3 } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8; ihdr[9] = 6;
  const text = (key, v) => chunk('tEXt', Buffer.concat([Buffer.from(key + '\0', 'latin1'),
    Buffer.from(typeof v === 'string' ? v : Buffer.from(JSON.stringify(v)).toString('base64'), 'latin1')]));
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (chara !== undefined) parts.push(text('chara', chara));
  if (ccv3 !== undefined) parts.push(text('ccv3', ccv3));
  parts.push(chunk('IDAT', zlib.deflateSync(Buffer.from([0, 255, 255, 255, 255]))), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

// A zip (stored or deflated entries) with a central directory.
function zip(files) {
  const locals = [];
  const central = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const comp = f.method === 0 ? f.data : zlib.deflateRawSync(f.data);
    const crc = crc32(f.data);
    const size = f.claim !== undefined ? f.claim : f.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(f.method === 0 ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, comp);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(f.method === 0 ? 0 : 8, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(comp.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length + comp.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBuf, end]);
}

function charx(card, { bomb, claim } = {}) {
  if (bomb) return zip([{ name: 'card.json', data: Buffer.alloc(bomb), claim }]);
  return zip([
    { name: 'card.json', data: Buffer.from(JSON.stringify(card)) },
    { name: 'assets/icon/images/main.png', data: pngCard({}), method: 0 },
  ]);
}

module.exports = { cardJson, pngCard, charx, zip, crc32 };
