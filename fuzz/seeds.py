#!/usr/bin/env python3
"""seeds.py - write the seed corpus fuzz/corpus/<target>/ from the inputs
the unit and integration tests use (frames, payloads, streams, headers,
specs, URLs). Each seed is laid out as its target's harness reads it (see
the comment at the top of each fuzz/fuzz_<target>.c). Run from the top of
the tree: python3 fuzz/seeds.py. Files named regress-* (inputs that once
crashed a target) are kept."""
import hashlib, os, struct, zlib

def put(target, data):
    d = os.path.join('fuzz', 'corpus', target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = 'seed-' + hashlib.sha1(data).hexdigest()[:12]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

# web chat frames (tests/integration/webchat*.test.js): nfrag byte, cap byte, frame
frames = [
    '{"type":"message","id":"m1","channel":"lobby","user":{"id":"u1","name":"Ann"},"text":"hello"}',
    '{"type":"message","id":"m2","channel":"lobby","user":{"id":"u1"},"text":"stream please","stream":true}',
    '{"type":"join","channel":"lobby","user":{"id":"u2","name":"Bo"}}',
    '{"type":"join"}', '{"type":"message","id":"","channel":"c","user":{"id":"u"},"text":"x"}',
    '{"type":"message","id":"m3","channel":"c","user":{"id":"u"},"text":"   "}',
    '{"type":"message","id":"m4","channel":"c","user":{"id":"u"},"text":"\\ud800"}',
    '{"type":"message","type":"join"}', '[1,2,3]', '{"type":"typing"}', 'not json', '{"id":"x"}',
    '{"type":"message","id":"m5","channel":"c","user":{"id":"u"},"text":"caf\u00e9 \U0001F600"}',
]
for i, fr in enumerate(frames):
    put('webchat_frame', bytes([i % 8, 1]) + fr.encode('utf-8', 'surrogatepass'))
put('webchat_frame', b'\x02\x01\xff\xfe{"type":"message"}')

# Discord gateway payloads and REST answers (tests/lib/fake-discord.js)
user = '{"id":"1001","username":"mira","global_name":"Mira","bot":false}'
discord = [
    '{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}',
    '{"op":11}', '{"op":7,"d":null}', '{"op":9,"d":false}', '{"op":1,"d":null}',
    '{"op":0,"s":1,"t":"READY","d":{"v":10,"user":{"id":"42","username":"chorus","bot":true},"session_id":"abc",'
    '"resume_gateway_url":"wss://gateway.example","guilds":[{"id":"7","unavailable":true}],"application":{"id":"42"}}}',
    '{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"id":"555","channel_id":"900","guild_id":"7","author":%s,'
    '"content":"<@42> hello \\u00e9\\n","mentions":[{"id":"42"}],"timestamp":"2024-05-01T12:00:00.000000+00:00",'
    '"member":{"nick":null,"roles":[]},"type":0,"tts":false,"flags":0,"nonce":12345678901234567}}' % user,
    '{"op":0,"s":3,"t":"MESSAGE_REACTION_ADD","d":{"user_id":"1001","channel_id":"900","message_id":"555",'
    '"guild_id":"7","emoji":{"id":null,"name":"\\ud83d\\udc4d"},"member":{"user":%s}}}' % user,
    '{"op":0,"s":4,"t":"MESSAGE_UPDATE","d":{"id":"555","channel_id":"900","author":%s,"content":"edited"}}' % user,
    '{"op":0,"s":5,"t":"INTERACTION_CREATE","d":{"id":"77","application_id":"42","type":2,"token":"tok",'
    '"channel_id":"900","guild_id":"7","member":{"user":%s},"data":{"id":"3","name":"remind","type":1,'
    '"options":[{"name":"who","type":3,"value":"me"},{"name":"n","type":4,"value":5},'
    '{"name":"rest","type":3,"value":"feed \\"the\\" cat"}]}}}' % user,
    '{"retry_after":1.5,"global":false,"message":"You are being rate limited.","code":0}',
    '{"id":"555","channel_id":"900","content":"ok","embeds":[],"attachments":[],"pinned":false,"edited_timestamp":null}',
    '{"url":"wss://gateway.discord.gg","shards":1,"session_start_limit":{"total":1000,"remaining":999,"reset_after":0,"max_concurrency":1}}',
    '{"message":"401: Unauthorized","code":0}', '[]', '{"a":1e5,"b":-0.0,"c":-12,"d":true,"e":null}',
    '{"k":"\\u0000"}', '{"k":"\\ud800"}', '{"a":1,"a":2}', '{"n":92233720368547758070}', '  {"x":[[[[]]]]}  ',
]
for p in discord:
    put('discord_json', p)

# Discord REST answers (tests/lib/fake-discord.js): status pick byte, headers \0 body
rl = 'x-ratelimit-limit: 5\r\nx-ratelimit-remaining: %s\r\nx-ratelimit-reset: 1714564801.250\r\n' \
     'x-ratelimit-reset-after: %s\r\nx-ratelimit-bucket: %s\r\n'
for pick, rem, after, bucket, extra, body in [
        (0, '4', '1.250', 'abcd1234', '', '{"id":"555","channel_id":"900","content":"ok"}'),
        (6, '0', '0.5', 'abcd1234', 'x-ratelimit-scope: user\r\nretry-after: 1\r\n',
         '{"message":"You are being rate limited.","retry_after":0.5,"global":false,"code":0}'),
        (6, '0', '2', 'abcd1234', 'x-ratelimit-global: true\r\nx-ratelimit-scope: global\r\n',
         '{"message":"You are being rate limited.","retry_after":2.0,"global":true}'),
        (0x36, '0', '1', 'ffff', 'x-ratelimit-scope: shared\r\n', ''),
        (3, '49', '60', 'b', '', '{"message":"401: Unauthorized","code":0}'),
        (7, '1', '1', 'b', '', 'upstream connect error')]:
    put('discord_rest', bytes([pick]) + (rl % (rem, after, bucket) + extra).encode() + b'\0' + body.encode())

# zlib-stream: mode byte (1: payloads split on 0xFE, compressed here; 0: raw stream), cap (2 bytes), data
for i in range(0, len(discord), 3):
    chunk = [p.encode() for p in discord[i:i + 3]]
    put('discord_zlib', b'\x01' + struct.pack('<H', 4000) + b'\xfe'.join(chunk))
    c = zlib.compressobj()
    raw = b''.join(c.compress(p) + c.flush(zlib.Z_SYNC_FLUSH) for p in chunk)
    put('discord_zlib', b'\x00' + struct.pack('<H', 4000) + raw)

# SSE (tests/unit/test_sse.c, fake-openai.js, fake-anthropic.js): cap byte, seed byte, stop byte, stream
sse = [
    'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n',
    'data: h\u00e9llo \U0001F600\r\n\r\ndata: \u4e2d\r\n\r\n', 'data: a\r\rdata: b\r\r',
    'data: one\ndata: two\ndata:\ndata: four\n\n',
    ': hello\nevent: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    ':keepalive\n\nevent: message_stop\ndata: {}\n\n',
    'id: 5\nretry: 100\nfoo: bar\ndata: x\n\n', '\ufeffdata: bom\n\n', 'data: done\n\ndata: cut',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n',
]
for i, s in enumerate(sse):
    put('sse', bytes([64, i, 0]) + s.encode())

# NDJSON (fake-ollama.js): cap byte, seed byte, stop byte, stream
nd = [
    '{"model":"llama3","message":{"role":"assistant","content":"He"},"done":false}\n'
    '{"model":"llama3","message":{"role":"assistant","content":"llo"},"done":false}\r\n'
    '{"model":"llama3","done":true,"eval_count":5}\n',
    '\n\n  \n{"a":1}', '{"error":"model not found"}\n',
]
for i, s in enumerate(nd):
    put('ndjson', bytes([200, i, 0]) + s.encode())

# chunked request bodies (tests/unit/test_http_chunked.c): cap byte, seed byte, body
chunked = [
    '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    '4;name=value\r\nWiki\r\n0\r\nExpires: never\r\n\r\n',
    'A\r\n0123456789\r\n0\r\n\r\nGET / HTTP/1.1\r\n',
    '5\nhello\n0\n\n', 'fffffffffffffffff\r\n', '0\r\n\r\n',
]
for i, s in enumerate(chunked):
    put('http_chunked', bytes([64, i]) + s.encode())

# HTTP headers (tests/unit/test_http_headers.c): now (5 bytes), header block
now = struct.pack('<Q', 1714564800)[:5]
hdrs = [
    'HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 2\r\n\r\n',
    'retry-after: Wed, 01 May 2024 12:00:05 GMT\r\nretry-after-ms: 1500\r\n',
    'x-ratelimit-reset-requests: 1s\r\nx-ratelimit-reset-tokens: 6m0s\r\nx-ratelimit-reset-tokens: 1h2m3.5s\r\n',
    'anthropic-ratelimit-requests-reset: 2024-05-01T12:00:04Z\r\nanthropic-ratelimit-tokens-reset: 2024-05-01T14:00:02.250+02:00\r\n',
    'x-ratelimit-limit: 5\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset-after: 1.25\r\nx-ratelimit-bucket: abcd\r\n'
    'x-ratelimit-scope: shared\r\nRetry-After: 0.5\r\n',
    'x-ratelimit-reset-tokens: 20us\r\nx-ratelimit-reset-requests: 17ms0s\r\n',
]
for h in hdrs:
    put('http_headers', now + h.encode())

# command arguments (plugins' commands in tests/integration/skills.test.js): command byte, rest of the text
cmds = [(0, ' 10m feed the cat'), (0, ' 1h30m "quoted" rest'), (0, ''), (0, ' soon x'), (1, ' 3 6'), (1, ' 3.5'),
        (1, ' 0x10 1e3'), (2, ' "Ann Lee" hello there  '), (2, ' ""'), (3, ' a 2d 7 1.5 extra'), (3, '\t\n'),
        (4, ' anything'), (1, ' 99999999999999999999'), (0, ' 99999999999999999999999w x')]
for c, rest in cmds:
    put('command_args', bytes([c]) + rest.encode())

# Lua patterns (tests/unit/lpattern_diff.lua): op, init, n, pattern \0 repl \0 subject
pats = [
    (0, 1, 0, '%d+', '', 'abc 123 def'), (1, 0, 0, '(%w+)=(%w+)', '%2=%1', 'a=b, c=d'),
    (2, 0, 0, '()', '', 'abc'), (3, 0, 3, '%s+', ' ', 'a  b   c'), (3, 8, 0, '(%w+)', '', 'hello world'),
    (3, 16, 0, '%w+', '', 'a b ab x y'), (0, 1, 0, '%b()', '', 'f(a(b)c) (d'), (1, 0, 0, '%f[%w]%w+', '', 'THE (quick) fox'),
    (0, 0, 0, '[%a-z]', '', '-'), (0, 0, 0, '(a*(.)%w(%s*))', '', 'aaab   c'), (1, 4, 0, '(.-)%1', '', 'abab'),
    (0, 0, 0, '%', '', 'x'), (0, 0, 0, '[a', '', 'x'), (0, 0, 0, '(()', '', 'x'), (3, 0, 0, 'a-b', '%0%0', 'aaab'),
    (0, 0, 0, 'a-' * 10 + 'b', '', 'a' * 40), (1, 0, 0, '^(%d+)%.(%d+)$', '', '3.14'), (3, 0, 0, '.', '%', 'x'),
]
for op, init, n, p, r, s in pats:
    put('lpattern', bytes([op, init & 0xFF, n]) + p.encode() + b'\0' + r.encode() + b'\0' + s.encode())

# schedules (tests/unit/test_schedule.c): start time (6 bytes), spec
specs = ['every 90s', 'every 5m', 'every 2h', 'every 1d', '  Every 10s\t', 'every 3650d', 'every 0s', '* * * * *',
         '*/15 * * * *', '0 0 * * 1-5', '0 0 * * MON-fri', '0 0 * * fri-sun', '0 0 31 2 *', '0 0 29 2 *',
         '0 0 13 * 5', '5/15 * * * *', '0 0 * jan-MAR *', '@hourly', '@daily', '@weekly', '@monthly', '@yearly',
         '@annually', '@midnight', '0 0 * * 0,7', '0 0 1-31 * 1', '59 23 31 12 *']
for i, s in enumerate(specs):
    put('schedule', struct.pack('<Q', 62200000000 + 1714564800 + i * 86399)[:6] + s.encode())

# config files (contrib/chorus.conf.lua, tests/unit/test_config.c)
with open('contrib/chorus.conf.lua') as f:
    put('config', f.read())
confs = [
    'listen "0.0.0.0:8181"\nredis "redis://127.0.0.1:6380/2" { prefix = "mira:", timeout_ms = 1500 }\n'
    'log_level "debug"\nadmin_socket "run/admin.sock"\nshutdown_timeout_ms(2500)\nreply_max_chars(1800)\n',
    'thing "a" { s = "x", i = 3, b = true, n = 1.5, t = { x = { 1, 2 } }, l = { "p", "q" }, a = 1, req = "r" }\n'
    'many "b" { req = "r" }\nmany "b" { req = "s", l = "one" }\nopts { req = "z", i = 2.0 }\nnum(4)\n'
    'list { "a", "b" }\nflag(false)\nanything { 1, { 2 }, x = "y" }\n',
    'thing "a" { }\nthing "a" { }\nthing(3)\nthing "b"\n', 'listen "x"\nlisten "y"\n', 'log_level "loud"\n',
    'local port = env("PORT", "8080")\nlisten("127.0.0.1:" .. port)\nredis(env("CHORUS_REDIS_URL", "redis://localhost"))\n',
    'while true do end\n', 'redis "redis://:secret-pw@db:6379/0"\nlisten(1)\n', 'lisen "x"\n', 'x = string.rep("a", 100)\n',
    'shutdown_timeout_ms(-5)\nreply_max_chars(2.5)\n', 'opts { [1] = "x", [true] = 1 }\n', 'thing "x" { req = "y" } { }\n',
]
for c in confs:
    put('config', c)

# webhook signatures (tests/unit/test_webhook_auth.c): now (8), window (4), mode, secret \0 timestamp \0 signature \0 body
import hmac, hashlib as hl
for mode, secret, ts, body in [(1, 'whsec', '1714564800', '{"event":"push"}'), (7, 'k', '1714564800', ''),
                                (3, 'secret', '1714564799', 'x' * 50)]:
    sig = hmac.new(secret.encode(), (ts + '.' + body).encode(), hl.sha256).hexdigest()
    for s in (sig, 'sha256=' + sig, sig.upper(), 'sha256=' + sig[:-1] + 'x', ''):
        put('webhook_auth', struct.pack('<QI', 1714564800, 300) + bytes([mode]) + secret.encode() + b'\0' +
            ts.encode() + b'\0' + s.encode() + b'\0' + body.encode())
put('webhook_auth', struct.pack('<QI', 5, 300) + b'\x00' + b'same\0-1\0same\0')

# Redis URLs (tests/unit/test_redis_url.c)
for u in ['redis://cache.example.com:6380/4', 'redis://localhost', 'redis://10.0.0.7/2', 'redis://127.0.0.1:6379/',
          'redis://chorus:s3cret@db.local:6379/1', 'redis://:only-pass@db.local:6379/0', 'redis://:p%40ss%3Aword@db.local/0',
          'redis://me%40home:pa%40ss@db.local:6390/3', 'redis://legacy-pass@db.local:6379/0', 'redis://[::1]:6380',
          'redis://:pw@[fe80::1:2]:6381/5', 'redis://[::1]/1', 'unix:///run/redis/redis.sock', 'unix:///run/redis/redis.sock?db=2',
          'unix://run/redis.sock', 'rediss://cache.example.com:6380/0', 'redis://', 'redis://h:99999', 'redis://h/x?y',
          'http://user:pw@host']:
    put('redis_url', u)

# UTF-8 (tests/unit/test_utf8.c): cut byte, bytes
for b in [b'hello', 'h\u00e9llo \U0001F600 \u4e2d'.encode(), b'\xc0\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
          b'\xe2\x82', b'\xf0\x9f\x98', b'a\x80b\xbf', b'\xfe\xff', b'\xe0\x80\x80', b'\x00\x01']:
    put('utf8', bytes([3]) + b)

# websocket frames a server sends (tests/unit/test_ws_frame.c): cap byte, cut seed, frames
def ws(fin, op, payload):
    n = len(payload)
    if n < 126: head = bytes([(0x80 if fin else 0) | op, n])
    elif n < 65536: head = bytes([(0x80 if fin else 0) | op, 126]) + struct.pack('>H', n)
    else: head = bytes([(0x80 if fin else 0) | op, 127]) + struct.pack('>Q', n)
    return head + payload
put('ws_frame', bytes([200, 7]) + ws(1, 1, b'{"op":0,"d":{"heartbeat_interval":41250}}'))
put('ws_frame', bytes([200, 3]) + ws(0, 1, b'hel') + ws(1, 9, b'p') + ws(1, 0, b'lo') + ws(1, 8, b'\x03\xe8bye'))
put('ws_frame', bytes([2, 5]) + ws(1, 2, b'x' * 300) + ws(1, 1, b'next'))
put('ws_frame', bytes([255, 9]) + ws(1, 1, b'y' * 70000))
put('ws_frame', bytes([10, 1]) + bytes([0x81, 0x81, 1, 2, 3, 4, 0x78]))
