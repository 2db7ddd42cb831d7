"""The soak's clients: HTTP workers mixing every route, held-open event streams, image intake.

Every request goes through Worker.call, which counts it by route and status and decides whether
a non-2xx answer is one of the expected ones. An answer is expected only with a stated reason:
either the request provoked it on purpose (a replace without If-Match gets 428), or it lost a
race that the shared Model saw happen (a 404 after another connection deleted the file while the
request was in flight). Everything else, and every transport failure, is a failure of the soak.

Content is checked too: every byte uploaded comes from a seeded generator, and every download
whose ETag names a version this process uploaded is compared with what was sent.
"""
import asyncio
import base64
import collections
import hashlib
import json
import random
import re
import struct
import time
import zlib

from soak_client import HttpConnection, TransportError, WebSocket, websocket_headers

# --- why a non-2xx answer may be fine ---------------------------------------------------------
R_RACE_WRITE = "the file was replaced, deleted or re-shared by another connection meanwhile"
R_STALE = "If-Match with an older ETag, on purpose"
R_NO_IF_MATCH = "replace without If-Match, on purpose"
R_RANGE = "Range beyond the end of the file, on purpose"
R_STRANGER = "a user the file is not shared with (ids do not leak)"
R_READ_ONLY = "write through a read-only share, on purpose"
R_NO_THUMB = "thumbnail of a file that is not a picture, on purpose"
R_INFLIGHT = "in-flight chunk limit reached (retried after Retry-After)"
R_INFLIGHT_PROBE = "in-flight chunk limit reached (a probe, not retried)"
R_NO_KEY = "no key or a wrong key, on purpose"
R_REVOKED = "a revoked key, on purpose"
R_DISABLED = "a disabled user's key, on purpose"
R_ADMIN_ONLY = "a non-admin on an admin route, on purpose"
R_SIGNED_OUT = "the session cookie after sign-out, on purpose"
R_NOTIF_GONE = "notification deleted by another connection of the same user"
R_OFFSET = "tus PATCH at a stale Upload-Offset, on purpose"


class Content:
    """Bytes this process uploaded: regenerated from a seed when needed, never kept."""
    __slots__ = ("seed", "size", "sha256", "raw")

    def __init__(self, seed=None, size=0, raw=None):
        self.seed, self.raw = seed, raw
        self.size = len(raw) if raw is not None else size
        self.sha256 = hashlib.sha256(self.bytes()).hexdigest()

    def bytes(self):
        if self.raw is not None:
            return self.raw
        return random.Random(self.seed).randbytes(self.size)


class FileInfo:
    __slots__ = ("id", "owner", "version", "image", "shares", "changes", "inflight", "_lock")

    def __init__(self, fid, owner, version, image):
        self.id, self.owner, self.version, self.image = fid, owner, version, image
        self.shares = {}  # user -> "read" | "write"
        self.changes = 0  # bumped when a write, delete or share change starts and ends
        self.inflight = 0  # such changes in progress
        self._lock = None

    def lock(self):
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def etag(self):
        return f'"{self.version}"'


class Model:
    """What the clients know of the server's state, shared by every task (one event loop, so
    no locks). Races are detected, not prevented: see raced()."""

    def __init__(self, users):
        self.users = users  # name -> key
        self.files = {}  # id -> FileInfo
        self.by_owner = {u: {} for u in users}  # user -> {id: FileInfo}
        self.shared_to = {u: {} for u in users}  # user -> {id: FileInfo}
        self.contents = {}  # (id, version) -> Content
        self.gone = set()  # deleted ids
        self.notif_deleters = collections.Counter()  # notification id -> deletes sent
        self.notif_deleted = set()
        self.admin_serial = 0  # names of the users op_admin creates

    def add(self, fid, owner, version, content, image=False):
        f = FileInfo(fid, owner, version, image)
        self.files[fid] = f
        self.by_owner[owner][fid] = f
        self.contents[(fid, version)] = content
        return f

    def remove(self, f):
        self.files.pop(f.id, None)
        self.by_owner[f.owner].pop(f.id, None)
        for u in f.shares:
            self.shared_to[u].pop(f.id, None)
        self.gone.add(f.id)
        for v in range(1, f.version + 1):
            self.contents.pop((f.id, v), None)

    def set_share(self, f, user, perm):
        if perm is None:
            f.shares.pop(user, None)
            self.shared_to[user].pop(f.id, None)
        elif f.id in self.files:
            f.shares[user] = perm
            self.shared_to[user][f.id] = f

    def mark(self, f):
        return (f.changes, f.inflight)

    def raced(self, f, mark, own=0):
        """True if another change of F started, ran or ended since MARK (OWN: changes of the
        caller itself in progress)."""
        return (f.id not in self.files or f.changes != mark[0] or mark[1] > own
                or f.inflight > own)


class changing:
    """async with changing(f): a change of F in progress (see Model.raced)."""

    def __init__(self, f):
        self.f = f

    async def __aenter__(self):
        self.f.changes += 1
        self.f.inflight += 1
        return self.f

    async def __aexit__(self, *exc):
        self.f.changes += 1
        self.f.inflight -= 1
        return False


class Stats:
    def __init__(self):
        self.total = 0
        self.by_route = collections.Counter()  # (route, status) -> n
        self.expected = collections.Counter()  # (route, status, reason) -> n
        self.unexpected = collections.Counter()  # (route, status) -> n
        self.samples = []  # first failures, in detail
        self.transport = collections.Counter()  # route -> n
        self.checks = collections.Counter()  # content checks: verified, unverified, ...
        self.streams = collections.Counter()  # stream messages by kind
        self.verdicts = collections.Counter()  # intake (expected, got) -> n
        self.per_second = collections.Counter()  # int(monotonic) -> completed requests
        self.failures = 0
        self.connects = 0  # TCP connections the HTTP workers opened

    def fail(self, what):
        self.failures += 1
        if len(self.samples) < 40:
            self.samples.append(what)


def expect_code(resp):
    try:
        return json.loads(resp.body).get("code")
    except (ValueError, AttributeError):
        return None


def content_size(rng):
    r = rng.random()
    if r < 0.70:
        return rng.randint(1, 16 * 1024)
    if r < 0.95:
        return rng.randint(16 * 1024, 256 * 1024)
    return rng.randint(256 * 1024, 2 * 1024 * 1024)


def png(width, height, pixels):
    """A PNG (8-bit RGB) of PIXELS, rows of width*3 bytes."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def random_picture(rng):
    """A 96x64 picture of 12x8 random blocks: large-scale structure, so its perceptual hash is
    effectively random and no two are taken for the same picture."""
    w, h, bw, bh = 96, 64, 8, 8
    cols, rows = w // bw, h // bh
    blocks = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(cols * rows)]
    pixels = bytearray()
    for y in range(h):
        row = b"".join(blocks[(y // bh) * cols + x] * bw for x in range(cols))
        pixels += row
    return png(w, h, bytes(pixels))


def multipart(fields, filename, content, ctype="application/octet-stream"):
    boundary = "soak" + "%016x" % random.getrandbits(64)
    out = bytearray()
    for k, v in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                .encode())
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
    out += content
    out += f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


class Context:
    """What every task shares: where the server is, the model, counters, the stop signal."""

    def __init__(self, host, port, model, stats, admin_key, rng_seed, timeout, max_requests):
        self.host, self.port = host, port
        self.model, self.stats = model, stats
        self.admin_key = admin_key
        self.seed = rng_seed
        self.timeout = timeout
        self.max_requests = max_requests
        self.stop = asyncio.Event()
        self.names = 0
        self.origin = f"http://{host}:{port}"

    def name(self, ext):
        self.names += 1
        return f"soak-{self.names}.{ext}"


class Worker:
    """One HTTP keep-alive connection running operations drawn from a weighted mix."""

    def __init__(self, ctx, index, user):
        self.ctx, self.user, self.index = ctx, user, index
        self.rng = random.Random(ctx.seed * 1000003 + index)
        self.conn = HttpConnection(ctx.host, ctx.port, ctx.timeout)
        self.m, self.stats = ctx.model, ctx.stats

    def key(self, user=None):
        return self.m.users[user or self.user]

    def auth(self, user=None):
        return [("Authorization", "Bearer " + self.key(user))]

    async def call(self, route, method, target, headers=(), body=b"", ok=(200,), expect=None,
                   conn=None):
        """Sends one request; counts it; returns the response, or None after a transport error.
        EXPECT: status -> (problem code or None, reason or a function returning one or None)."""
        st = self.stats
        try:
            resp = await (conn or self.conn).request(method, target, headers, body)
        except TransportError as e:
            st.total += 1
            st.transport[route] += 1
            st.fail(f"{route} ({method} {target}): {e}")
            return None
        st.total += 1
        st.per_second[int(time.monotonic())] += 1
        st.by_route[(route, resp.status)] += 1
        if resp.status in ok:
            return resp
        rule = (expect or {}).get(resp.status)
        reason = None
        if rule is not None:
            code, why = rule
            reason = why(resp) if callable(why) else why
            if code is not None and expect_code(resp) != code:
                reason = None
        if reason:
            st.expected[(route, resp.status, reason)] += 1
        else:
            st.unexpected[(route, resp.status)] += 1
            st.fail(f"{route} ({method} {target}): unexpected {resp.status} "
                    f"{resp.body[:300]!r}")
        return resp

    def verify(self, fid, resp):
        """Compares a download (whole, or one range as its Content-Range says) with what was
        uploaded as the version its ETag names."""
        etag = resp.header("etag", "").strip('"')
        c = self.m.contents.get((fid, int(etag))) if etag.isdigit() else None
        if c is None:
            self.stats.checks["content unverified (version not known here)"] += 1
            return
        data = c.bytes()
        first = last = None
        want = data
        if resp.status == 206:
            m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", resp.header("content-range", ""))
            if not m or int(m.group(3)) != c.size:
                self.stats.fail(f"206 for file {fid} version {etag} ({c.size} bytes) with "
                                f"Content-Range {resp.header('content-range')}")
                return
            first, last = int(m.group(1)), int(m.group(2))
            want = data[first:last + 1]
        if resp.body == want:
            self.stats.checks["content verified"] += 1
        else:
            self.stats.checks["content MISMATCH"] += 1
            self.stats.fail(f"content mismatch: file {fid} version {etag} range {first}-{last}: "
                            f"{len(resp.body)} bytes, wanted {len(want)}")

    def verify_parts(self, fid, resp):
        """A multipart/byteranges answer: each part checked like a single range."""
        boundary = resp.header("content-type").split("boundary=", 1)[1]
        parts = resp.body.split(b"--" + boundary.encode())
        if parts[0] not in (b"", b"\r\n") or not parts[-1].startswith(b"--"):
            self.stats.fail(f"malformed multipart/byteranges for {fid}")
            return
        for part in parts[1:-1]:
            head, sep, body = part.partition(b"\r\n\r\n")
            fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if line)
            if not sep or not body.endswith(b"\r\n") or "Content-Range" not in fields:
                self.stats.fail(f"malformed part in multipart/byteranges for {fid}: {head!r}")
                return
            single = type(resp)(206, {"etag": resp.header("etag"),
                                      "content-range": fields["Content-Range"]}, body[:-2])
            self.verify(fid, single)

    def race(self, f, own=0):
        """A reason function: 'lost a race' if F changed since now (see Model.raced)."""
        mark = self.m.mark(f)
        return lambda _resp: R_RACE_WRITE if self.m.raced(f, mark, own) else None

    # --- picking ---------------------------------------------------------------------------

    def own_file(self, image=None):
        files = self.m.by_owner[self.user]
        if not files:
            return None
        f = files[self.rng.choice(list(files))]
        if image is not None and f.image != image:
            return None
        return f

    def other_user(self):
        others = [u for u in self.m.by_owner if u != self.user]
        return self.rng.choice(others)

    # --- operations ------------------------------------------------------------------------

    async def op_upload(self):
        if len(self.m.by_owner[self.user]) >= 60:
            return await self.op_delete()
        rng = self.rng
        picture = rng.random() < 0.1
        if picture:
            c = Content(raw=random_picture(rng))
            ctype, name = "image/png", self.ctx.name("png")
        else:
            c = Content(seed=rng.getrandbits(63), size=content_size(rng))
            ctype, name = "application/octet-stream", self.ctx.name("bin")
        if rng.random() < 0.5:
            route = "POST /files (raw)"
            headers = self.auth() + [("Content-Type", ctype)]
            resp = await self.call(route, "POST", f"/files?name={name}", headers, c.bytes(),
                                   ok=(201,))
        else:
            route = "POST /files (multipart)"
            mtype, body = multipart([("name", name)], name, c.bytes(), ctype)
            resp = await self.call(route, "POST", "/files", self.auth() +
                                   [("Content-Type", mtype)], body, ok=(201,))
        if resp is None or resp.status != 201:
            return
        obj = json.loads(resp.body)
        if obj["sha256"] != c.sha256 or obj["size"] != c.size:
            self.stats.fail(f"{route}: stored sha256/size {obj['sha256']}/{obj['size']} differ "
                            f"from the upload's {c.sha256}/{c.size}")
        self.m.add(obj["id"], self.user, obj["version"], c, image=picture)

    async def op_download(self):
        f = self.own_file()
        if f is None:
            return await self.op_upload()
        raced = (None, self.race(f))
        target = f"/files/{f.id}"
        r = self.rng.random()
        if r < 0.45:
            resp = await self.call("GET /files/{id}", "GET", target, self.auth(),
                                   expect={404: raced})
            if resp is not None and resp.status == 200:
                self.verify(f.id, resp)
            return
        c = self.m.contents.get((f.id, f.version))
        size = c.size if c else 1
        if r < 0.75:
            first = self.rng.randrange(size)
            last = min(size - 1, first + self.rng.randrange(1, 64 * 1024))
            kind = self.rng.random()
            if kind < 0.6:
                spec = f"bytes={first}-{last}"
            elif kind < 0.8:
                spec = f"bytes=-{last - first + 1}"
            else:
                spec = f"bytes=0-0,{first}-{last}"
            resp = await self.call("GET /files/{id} (Range)", "GET", target,
                                   self.auth() + [("Range", spec)], ok=(206, 200),
                                   expect={404: raced, 416: raced})
            if resp is None or resp.status not in (200, 206):
                return
            if resp.header("content-type", "").startswith("multipart/byteranges"):
                self.verify_parts(f.id, resp)
            else:
                self.verify(f.id, resp)
            return
        if r < 0.85:
            await self.call("GET /files/{id} (Range)", "GET", target,
                            self.auth() + [("Range", "bytes=1000000000-")],
                            ok=(), expect={416: ("range_not_satisfiable", R_RANGE),
                                           404: raced})
            return
        # Conditional requests.
        etag = f.etag
        kind = self.rng.random()
        if kind < 0.4:
            resp = await self.call("GET /files/{id} (If-None-Match)", "GET", target,
                                   self.auth() + [("If-None-Match", etag)], ok=(304, 200),
                                   expect={404: raced})
            if resp is not None and resp.status == 200 and resp.header("etag") == etag:
                self.stats.fail(f"If-None-Match {etag} answered 200 with that same ETag")
        elif kind < 0.7:
            resp = await self.call("HEAD /files/{id}", "HEAD", target, self.auth(),
                                   expect={404: raced})
            if resp is not None and resp.status == 200:
                c = self.m.contents.get((f.id, int(resp.header("etag", '"0"').strip('"'))))
                if c is not None and int(resp.header("content-length", -1)) != c.size:
                    self.stats.fail(f"HEAD {target}: Content-Length "
                                    f"{resp.header('content-length')} for {c.size} bytes")
        else:
            # If-Range: the current ETag gives the range, an old one the whole file.
            stale = self.rng.random() < 0.3 and f.version > 1
            tag = f'"{f.version - 1}"' if stale else etag
            resp = await self.call("GET /files/{id} (If-Range)", "GET", target,
                                   self.auth() + [("Range", "bytes=0-9"), ("If-Range", tag)],
                                   ok=(200, 206), expect={404: raced})
            if resp is not None and resp.status == 200:
                self.verify(f.id, resp)

    async def op_meta(self):
        f = self.own_file()
        if f is None:
            return
        raced = (None, self.race(f))
        resp = await self.call("GET /files/{id}/meta", "GET", f"/files/{f.id}/meta",
                               self.auth(), expect={404: raced})
        if resp is not None and resp.status == 200:
            obj = json.loads(resp.body)
            c = self.m.contents.get((f.id, obj["version"]))
            if c is not None and c.sha256 != obj["sha256"]:
                self.stats.fail(f"meta of {f.id} v{obj['version']}: sha256 {obj['sha256']}, "
                                f"uploaded {c.sha256}")

    async def op_replace(self):
        f = self.own_file(image=False)
        if f is None:
            return
        rng = self.rng
        c = Content(seed=rng.getrandbits(63), size=content_size(rng))
        r = rng.random()
        async with changing(f):
            raced = self.race(f, own=1)
            sent = f.etag
            if r < 0.06:
                headers, ok = self.auth(), ()
                expect = {428: ("if_match_required", R_NO_IF_MATCH), 404: (None, raced)}
            elif r < 0.12 and f.version > 1:
                sent = f'"{f.version - 1}"'
                headers, ok = self.auth() + [("If-Match", sent)], ()
                expect = {412: ("etag_mismatch", R_STALE), 404: (None, raced)}
            else:
                headers, ok = self.auth() + [("If-Match", sent)], (200,)
                expect = {412: ("etag_mismatch", raced), 404: (None, raced)}
            if rng.random() < 0.5:
                route, body = "PUT /files/{id} (raw)", c.bytes()
                headers.append(("Content-Type", "application/octet-stream"))
            else:
                route = "PUT /files/{id} (multipart)"
                mtype, body = multipart([], "replaced.bin", c.bytes())
                headers.append(("Content-Type", mtype))
            resp = await self.call(route, "PUT", f"/files/{f.id}", headers, body, ok=ok,
                                   expect=expect)
            if resp is None:
                return
            if resp.status == 412:
                current = json.loads(resp.body).get("current_etag")
                if current == sent:
                    self.stats.fail(f"412 for If-Match {sent} naming the current ETag {current}")
            if resp.status != 200:
                return
            obj = json.loads(resp.body)
            if obj["sha256"] != c.sha256:
                self.stats.fail(f"{route}: stored sha256 differs from the upload's")
            self.m.contents[(f.id, obj["version"])] = c
            f.version = max(f.version, obj["version"])

    async def op_delete(self):
        f = self.own_file()
        if f is None:
            return
        async with f.lock(), changing(f):
            raced = self.race(f, own=1)
            headers = self.auth()
            if self.rng.random() < 0.7:
                headers.append(("If-Match", f.etag))
            resp = await self.call("DELETE /files/{id}", "DELETE", f"/files/{f.id}", headers,
                                   ok=(204,), expect={404: (None, raced),
                                                      412: ("etag_mismatch", raced)})
            if resp is not None and resp.status in (204, 404):
                self.m.remove(f)

    async def op_list(self):
        limit = self.rng.randint(1, 40)
        target = f"/files?limit={limit}"
        for _ in range(3):
            resp = await self.call("GET /files", "GET", target, self.auth())
            if resp is None or resp.status != 200:
                return
            json.loads(resp.body)
            link = resp.header("link")
            if not link or 'rel="next"' not in link:
                return
            target = link[link.index("<") + 1:link.index(">")]

    async def op_share(self):
        f = self.own_file()
        if f is None:
            return
        other = self.other_user()
        # Share changes of one file are serialised, so that the model sees them in the order
        # the server made them.
        async with f.lock(), changing(f):
            raced = self.race(f, own=1)
            if other in f.shares and self.rng.random() < 0.5:
                resp = await self.call("DELETE /shares/{id}/{user_id}", "DELETE",
                                       f"/shares/{f.id}/{other}", self.auth(), ok=(204,),
                                       expect={404: (None, raced)})
                if resp is not None and resp.status in (204, 404):
                    self.m.set_share(f, other, None)
            else:
                perm = self.rng.choice(("read", "write"))
                body = json.dumps({"target_user_id": other, "permission": perm}).encode()
                resp = await self.call("POST /shares/{id}", "POST", f"/shares/{f.id}",
                                       self.auth() + [("Content-Type", "application/json")],
                                       body, ok=(200, 201),
                                       expect={404: ("file_not_found", raced)})
                if resp is not None and resp.status in (200, 201):
                    self.m.set_share(f, other, perm)
        if self.rng.random() < 0.5:
            raced = self.race(f)
            await self.call("GET /shares/{id}", "GET", f"/shares/{f.id}", self.auth(),
                            expect={404: ("file_not_found", raced)})

    async def op_sharee(self):
        """As a user a file is shared with: read it, or write it (403 on a read share)."""
        shared = self.m.shared_to[self.user]
        if not shared:
            return await self.op_stranger()
        f = shared[self.rng.choice(list(shared))]
        perm = f.shares.get(self.user)
        raced = self.race(f)
        r = self.rng.random()
        if r < 0.5:
            resp = await self.call("GET /files/{id} (sharee)", "GET", f"/files/{f.id}",
                                   self.auth(), expect={404: (None, raced)})
            if resp is not None and resp.status == 200:
                self.verify(f.id, resp)
        elif r < 0.7:
            await self.call("GET /files/{id}/meta (sharee)", "GET", f"/files/{f.id}/meta",
                            self.auth(), expect={404: (None, raced)})
        elif not f.image:
            c = Content(seed=self.rng.getrandbits(63), size=self.rng.randint(1, 8192))
            async with changing(f):
                raced_w = self.race(f, own=1)
                ro = (lambda resp: R_READ_ONLY if perm == "read" else raced_w(resp))
                resp = await self.call("PUT /files/{id} (sharee)", "PUT", f"/files/{f.id}",
                                       self.auth() + [("If-Match", f.etag)], c.bytes(),
                                       ok=(200,) if perm == "write" else (),
                                       expect={403: ("read_only_share", ro),
                                               404: (None, raced_w),
                                               412: ("etag_mismatch", raced_w),
                                               200: (None, raced_w)})
                if resp is not None and resp.status == 200:
                    obj = json.loads(resp.body)
                    self.m.contents[(f.id, obj["version"])] = c
                    f.version = max(f.version, obj["version"])

    async def op_stranger(self):
        """A file of another user that is not shared with this one: 404, as if it did not
        exist."""
        other = self.other_user()
        files = self.m.by_owner[other]
        if not files:
            return
        f = files[self.rng.choice(list(files))]
        if self.user in f.shares:
            return
        raced = self.race(f)
        stranger = lambda _resp: R_STRANGER if self.user not in f.shares else None
        await self.call("GET /files/{id} (stranger)", "GET", f"/files/{f.id}", self.auth(),
                        ok=(), expect={404: ("file_not_found", stranger), 200: (None, raced)})

    async def op_thumbnail(self):
        f = self.own_file()
        if f is None:
            return
        raced = (None, self.race(f))
        if f.image:
            resp = await self.call("GET /files/{id}/thumbnail", "GET",
                                   f"/files/{f.id}/thumbnail", self.auth(), expect={404: raced})
            if resp is not None and resp.status == 200 and not resp.body.startswith(b"RIFF"):
                self.stats.fail(f"thumbnail of {f.id} is not a WebP: {resp.body[:16]!r}")
        else:
            no_thumb = (lambda resp: R_NO_THUMB if expect_code(resp) == "no_thumbnail"
                        else raced[1](resp))
            await self.call("GET /files/{id}/thumbnail", "GET", f"/files/{f.id}/thumbnail",
                            self.auth(), ok=(), expect={404: (None, no_thumb)})

    async def op_notifications(self):
        resp = await self.call("GET /notifications", "GET",
                               f"/notifications?limit={self.rng.randint(1, 30)}", self.auth())
        if resp is None or resp.status != 200:
            return
        items = json.loads(resp.body)
        await self.call("GET /notifications/unread-count", "GET", "/notifications/unread-count",
                        self.auth())
        # A 404 is expected once another connection sent a DELETE for that notification.
        gone = lambda nid, own=0: (lambda _resp: R_NOTIF_GONE
                                   if (self.m.notif_deleters[nid] > own or
                                       nid in self.m.notif_deleted) else None)
        r = self.rng.random()
        if items and r < 0.4:
            n = self.rng.choice(items)
            await self.call("PATCH /notifications/{id}/read", "PATCH",
                            f"/notifications/{n['id']}/read", self.auth(),
                            expect={404: ("notification_not_found", gone(n["id"]))})
        elif r < 0.55:
            await self.call("PATCH /notifications/read-all", "PATCH",
                            "/notifications/read-all", self.auth())
        # Inboxes are kept from growing without bound: the oldest listed go.
        for n in items[-3:]:
            nid = n["id"]
            if nid in self.m.notif_deleted:
                continue
            self.m.notif_deleters[nid] += 1
            resp = await self.call("DELETE /notifications/{id}", "DELETE",
                                   f"/notifications/{nid}", self.auth(), ok=(204,),
                                   expect={404: ("notification_not_found", gone(nid, 1))})
            if resp is not None and resp.status == 204:
                self.m.notif_deleted.add(nid)

    async def retry_429(self, route, method, target, headers, body, ok, expect=None):
        expect = dict(expect or {})
        expect[429] = (None, R_INFLIGHT)
        for _ in range(60):
            resp = await self.call(route, method, target, headers, body, ok=ok, expect=expect)
            if resp is None or resp.status != 429:
                return resp
            await asyncio.sleep(min(2.0, float(resp.header("retry-after", "1"))) *
                                self.rng.uniform(0.2, 1.0))
        self.stats.fail(f"{route}: still 429 after 60 attempts")
        return None

    async def op_chunked(self):
        rng = self.rng
        chunk = 64 * 1024
        c = Content(seed=rng.getrandbits(63), size=rng.randint(1, 10) * chunk
                    - rng.randrange(chunk))
        data = c.bytes()
        init = {"filename": self.ctx.name("chunked"), "size": c.size, "chunk_size": chunk}
        if rng.random() < 0.5:
            init["sha256"] = c.sha256
        target = self.own_file(image=False) if rng.random() < 0.2 else None
        if target is not None:
            async with changing(target):
                return await self._chunked(c, data, init, target)
        return await self._chunked(c, data, init, None)

    async def _chunked(self, c, data, init, f):
        rng = self.rng
        expect = {}
        if f is not None:
            raced = self.race(f, own=1)
            init["file_id"], init["if_match"] = f.id, f.etag
            expect = {412: ("etag_mismatch", raced), 404: ("file_not_found", raced)}
        json_h = self.auth() + [("Content-Type", "application/json")]
        resp = await self.call("POST /v1/uploads/init", "POST", "/v1/uploads/init", json_h,
                               json.dumps(init).encode(), ok=(201,), expect=expect)
        if resp is None or resp.status != 201:
            return
        up = json.loads(resp.body)
        base = f"/v1/uploads/{up['upload_id']}"
        size = up["chunk_size"]
        order = list(range(up["chunk_count"]))
        rng.shuffle(order)
        abort_at = rng.randrange(len(order) + 1) if rng.random() < 0.1 else None
        for n, i in enumerate(order):
            if n == abort_at:
                await self.call("DELETE /v1/uploads/{id}", "DELETE", base, self.auth(),
                                ok=(204,))
                return
            piece = data[i * size:(i + 1) * size]
            h = self.auth()
            if rng.random() < 0.5:
                digest = base64.b64encode(hashlib.sha256(piece).digest()).decode()
                h.append(("Content-Digest", f"sha-256=:{digest}:"))
            resp = await self.retry_429("PUT /v1/uploads/{id}/chunks/{index}", "PUT",
                                        f"{base}/chunks/{i}", h, piece, (200,))
            if resp is None or resp.status != 200:
                return await self._abandon(base)
        await self.call("GET /v1/uploads/{id}", "GET", base, self.auth())
        resp = await self.call("GET /v1/uploads/{id}/missing-chunks", "GET",
                               f"{base}/missing-chunks", self.auth())
        if resp is not None and resp.status == 200 and json.loads(resp.body)["missing"]:
            self.stats.fail(f"{base}: chunks missing after all were acknowledged: "
                            f"{resp.body[:200]!r}")
        body = b""
        if "sha256" not in init and rng.random() < 0.5:
            body = json.dumps({"sha256": c.sha256}).encode()
        resp = await self.call("POST /v1/uploads/{id}/complete", "POST", f"{base}/complete",
                               self.auth(), body, ok=(201,) if f is None else (200,),
                               expect=expect)
        if resp is None or resp.status not in (200, 201):
            return await self._abandon(base)
        obj = json.loads(resp.body)
        if obj["sha256"] != c.sha256:
            self.stats.fail(f"{base}: completed file's sha256 differs from the chunks sent")
        if f is None:
            nf = self.m.add(obj["id"], self.user, obj["version"], c)
        else:
            self.m.contents[(f.id, obj["version"])] = c
            f.version = max(f.version, obj["version"])
            nf = f
        raced = (None, self.race(nf, own=0 if f is None else 1))
        resp = await self.call("GET /v1/uploads/{id}/download", "GET", f"{base}/download",
                               self.auth(), expect={404: raced})
        if resp is not None and resp.status == 200:
            self.verify(nf.id, resp)

    async def _abandon(self, base):
        await self.call("DELETE /v1/uploads/{id}", "DELETE", base, self.auth(), ok=(204,))

    async def op_tus(self):
        rng = self.rng
        tus = [("Tus-Resumable", "1.0.0")]
        if rng.random() < 0.2:
            await self.call("OPTIONS /tus/", "OPTIONS", "/tus/", tus, ok=(204,))
        c = Content(seed=rng.getrandbits(63), size=rng.randint(1, 400 * 1024))
        data = c.bytes()
        name = self.ctx.name("tus")
        meta = (f"filename {base64.b64encode(name.encode()).decode()},"
                f"filetype {base64.b64encode(b'application/octet-stream').decode()}")
        h = self.auth() + tus + [("Upload-Metadata", meta)]
        deferred = rng.random() < 0.15
        h.append(("Upload-Defer-Length", "1") if deferred else ("Upload-Length", str(c.size)))
        first = b""
        if rng.random() < 0.3:
            first = data[:rng.randint(0, min(len(data), 64 * 1024))]
            h.append(("Content-Type", "application/offset+octet-stream"))
        resp = await self.retry_429("POST /tus/", "POST", "/tus/", h, first, (201,))
        if resp is None or resp.status != 201:
            return
        loc = resp.header("location", "")
        target = loc[loc.index("/tus/"):]
        offset = int(resp.header("upload-offset", "0"))
        if offset != len(first):
            self.stats.fail(f"POST /tus/ with {len(first)} bytes: Upload-Offset {offset}")
        abort = rng.random() < 0.1
        file_id = resp.header("sharebox-file-id")
        while offset < c.size or (deferred and c.size == 0 and not file_id):
            if abort and offset > 0:
                await self.call("DELETE /tus/{id}", "DELETE", target, self.auth() + tus,
                                ok=(204,))
                return
            if rng.random() < 0.1:
                await self.call("HEAD /tus/{id}", "HEAD", target, self.auth() + tus)
            if rng.random() < 0.05:
                await self.call("PATCH /tus/{id}", "PATCH", target, self.auth() + tus + [
                    ("Upload-Offset", str(offset + 1)),
                    ("Content-Type", "application/offset+octet-stream")], b"x", ok=(),
                    expect={409: ("offset_mismatch", R_OFFSET), 429: (None, R_INFLIGHT_PROBE)})
            piece = data[offset:offset + rng.randint(16 * 1024, 160 * 1024)]
            ph = self.auth() + tus + [("Upload-Offset", str(offset)),
                                      ("Content-Type", "application/offset+octet-stream")]
            if deferred:
                ph.append(("Upload-Length", str(c.size)))
                deferred = False
            if rng.random() < 0.3:
                ph.append(("Upload-Checksum",
                           "sha1 " + base64.b64encode(hashlib.sha1(piece).digest()).decode()))
            resp = await self.retry_429("PATCH /tus/{id}", "PATCH", target, ph, piece, (204,))
            if resp is None or resp.status != 204:
                await self.call("DELETE /tus/{id}", "DELETE", target, self.auth() + tus,
                                ok=(204,))
                return
            offset = int(resp.header("upload-offset", "-1"))
            file_id = resp.header("sharebox-file-id") or file_id
        if not file_id:
            resp = await self.call("HEAD /tus/{id}", "HEAD", target, self.auth() + tus)
            file_id = resp.header("sharebox-file-id") if resp is not None else None
        if not file_id:
            self.stats.fail(f"tus upload {target} finished without Sharebox-File-Id")
            return
        resp = await self.call("GET /tus/{id}", "GET", target, self.auth() + tus)
        if resp is None or resp.status != 200:
            return
        version = int(resp.header("etag", '"1"').strip('"'))
        self.m.add(file_id, self.user, version, c)
        self.verify(file_id, resp)

    async def op_probe(self):
        r = self.rng.random()
        if r < 0.35:
            await self.call("GET /health", "GET", "/health")
        elif r < 0.55:
            await self.call("GET /ready", "GET", "/ready")
        elif r < 0.62:
            await self.call("GET /metrics", "GET", "/metrics")
        elif r < 0.70:
            await self.call("GET /openapi.json", "GET", "/openapi.json")
        elif r < 0.76:
            await self.call("GET /", "GET", "/")
        elif r < 0.82:
            await self.call("GET /app/{name}", "GET",
                            "/app/" + self.rng.choice(("app.js", "style.css", "api.js")))
        elif r < 0.85:
            await self.call("GET /docs", "GET", "/docs")
        elif r < 0.93:
            await self.call("GET /files (no key)", "GET", "/files", ok=(),
                            expect={401: ("unauthenticated", R_NO_KEY)})
        else:
            await self.call("GET /files (wrong key)", "GET", "/files",
                            [("Authorization", "Bearer sbx_not_a_key")], ok=(),
                            expect={401: ("unauthenticated", R_NO_KEY)})

    async def op_session(self):
        body = json.dumps({"api_key": self.key()}).encode()
        resp = await self.call("POST /auth/session", "POST", "/auth/session",
                               [("Content-Type", "application/json")], body, ok=(201,))
        if resp is None or resp.status != 201:
            return
        cookie = [("Cookie", resp.header("set-cookie", "").split(";", 1)[0])]
        await self.call("GET /auth/session", "GET", "/auth/session", cookie)
        await self.call("GET /files (cookie)", "GET", "/files?limit=5", cookie)
        await self.call("DELETE /auth/session", "DELETE", "/auth/session",
                        cookie + [("Origin", self.ctx.origin)], ok=(204,))
        await self.call("GET /auth/session", "GET", "/auth/session", cookie, ok=(),
                        expect={401: ("unauthenticated", R_SIGNED_OUT)})

    async def op_ticket(self):
        await self.call("POST /auth/ws-ticket", "POST", "/auth/ws-ticket", self.auth(),
                        ok=(201,))

    async def op_admin(self):
        ctx = self.ctx
        admin = [("Authorization", "Bearer " + ctx.admin_key)]
        json_h = admin + [("Content-Type", "application/json")]
        if self.rng.random() < 0.2:
            await self.call("POST /admin/users (non-admin)", "POST", "/admin/users",
                            self.auth() + [("Content-Type", "application/json")],
                            b'{"name":"nobody"}', ok=(),
                            expect={403: ("admin_required", R_ADMIN_ONLY)})
            return
        self.m.admin_serial += 1
        name = f"churn-{self.m.admin_serial}"
        resp = await self.call("POST /admin/users", "POST", "/admin/users", json_h,
                               json.dumps({"name": name, "key_label": "soak"}).encode(),
                               ok=(201,))
        if resp is None or resp.status != 201:
            return
        first_key = json.loads(resp.body)["key"]["key"]
        user = [("Authorization", "Bearer " + first_key)]
        await self.call("GET /admin/users/{user_id}", "GET", f"/admin/users/{name}", admin)
        target = "/admin/users?limit=5"
        for _ in range(2):
            resp = await self.call("GET /admin/users", "GET", target, admin)
            if resp is None or resp.status != 200:
                break
            nxt = json.loads(resp.body).get("next")
            if not nxt:
                break
            target = f"/admin/users?limit=5&after={nxt}"
        resp = await self.call("POST /admin/users/{user_id}/keys", "POST",
                               f"/admin/users/{name}/keys", json_h, b'{"label":"second"}',
                               ok=(201,))
        if resp is None or resp.status != 201:
            return
        k = json.loads(resp.body)
        second = [("Authorization", "Bearer " + k["key"])]
        await self.call("GET /files (new user)", "GET", "/files", second)
        await self.call("DELETE /admin/users/{user_id}/keys/{key_id}", "DELETE",
                        f"/admin/users/{name}/keys/{k['id']}", admin, ok=(204,))
        await self.call("GET /files (revoked key)", "GET", "/files", second, ok=(),
                        expect={401: ("unauthenticated", R_REVOKED)})
        await self.call("PATCH /admin/users/{user_id}", "PATCH", f"/admin/users/{name}",
                        json_h, b'{"disabled":true}')
        await self.call("GET /files (disabled user)", "GET", "/files", user, ok=(),
                        expect={401: ("unauthenticated", R_DISABLED)})
        await self.call("PATCH /admin/users/{user_id}", "PATCH", f"/admin/users/{name}",
                        json_h, b'{"disabled":false}')
        await self.call("GET /files (new user)", "GET", "/files", user)

    OPS = (("op_download", 22), ("op_upload", 12), ("op_meta", 6), ("op_replace", 7),
           ("op_delete", 5), ("op_list", 6), ("op_share", 6), ("op_sharee", 6),
           ("op_stranger", 2), ("op_thumbnail", 3), ("op_notifications", 4),
           ("op_chunked", 2), ("op_tus", 3), ("op_probe", 6), ("op_session", 1),
           ("op_ticket", 1), ("op_admin", 0.4))

    async def run(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        ctx = self.ctx
        try:
            while not ctx.stop.is_set():
                if self.stats.total >= ctx.max_requests:
                    ctx.stop.set()
                    break
                op = self.rng.choices(names, weights)[0]
                await getattr(self, op)()
        finally:
            self.stats.connects += self.conn.connects
            await self.conn.aclose()


class Subscriber:
    """A /ws/events or /events stream. HELD streams stay open for the whole phase (the server
    must never end them); the others reconnect every few seconds, with a ticket or a key."""

    def __init__(self, ctx, index, user, kind, held):
        self.ctx, self.user, self.kind, self.held = ctx, user, kind, held
        self.rng = random.Random(ctx.seed * 7919 + index)
        self.name = f"{kind} {'held' if held else 'cycling'} #{index} ({user})"
        self.received = 0
        self.opened = 0

    def key_header(self):
        return [("Authorization", "Bearer " + self.ctx.model.users[self.user])]

    async def run(self):
        st = self.ctx.stats
        while not self.ctx.stop.is_set():
            until = None if self.held else time.monotonic() + self.rng.uniform(2, 10)
            try:
                await self.session(until)
            except (TransportError, OSError, asyncio.IncompleteReadError, ValueError) as e:
                st.streams[f"{self.kind} failures"] += 1
                st.fail(f"{self.name}: {type(e).__name__}: {e}")
                await asyncio.sleep(1)

    async def open(self):
        ctx, st = self.ctx, self.ctx.stats
        conn = HttpConnection(ctx.host, ctx.port, ctx.timeout)
        route = "GET /ws/events" if self.kind == "ws" else "GET /events"
        target = "/ws/events" if self.kind == "ws" else "/events"
        headers = self.key_header()
        if not self.held and self.rng.random() < 0.5:
            # A browser's way in: a single-use ticket, fetched on the same connection.
            resp = await conn.request("POST", "/auth/ws-ticket", self.key_header())
            st.total += 1
            st.by_route[("POST /auth/ws-ticket", resp.status)] += 1
            if resp.status != 201:
                st.unexpected[("POST /auth/ws-ticket", resp.status)] += 1
                st.fail(f"{self.name}: ticket {resp.status}")
                await conn.aclose()
                return None
            target += "?ticket=" + json.loads(resp.body)["ticket"]
            headers = []
        if self.kind == "ws":
            headers = headers + websocket_headers()
        status, hdrs, reader, writer = await conn.upgrade(target, headers)
        want = 101 if self.kind == "ws" else 200
        st.total += 1
        st.by_route[(route, status)] += 1
        if status != want:
            st.unexpected[(route, status)] += 1
            st.fail(f"{self.name}: {route} answered {status}")
            writer.close()
            return None
        self.opened += 1
        return reader, writer

    async def session(self, until):
        opened = await self.open()
        if opened is None:
            await asyncio.sleep(1)
            return
        reader, writer = opened
        ws = WebSocket(reader, writer) if self.kind == "ws" else None
        stop = asyncio.ensure_future(self.ctx.stop.wait())
        try:
            while True:
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    break
                recv = asyncio.ensure_future(ws.recv() if ws else reader.readuntil(b"\n\n"))
                done, _ = await asyncio.wait({recv, stop}, timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                if recv not in done:
                    recv.cancel()
                    try:
                        await recv
                    except (asyncio.CancelledError, Exception):
                        pass
                    break
                msg = recv.result()
                if ws:
                    if msg is None:
                        raise TransportError(f"server closed the stream ({ws.close_code})")
                    opcode, payload = msg
                    kind = json.loads(payload).get("kind", "?")
                else:
                    text = msg.decode()
                    if text.startswith(":"):
                        continue  # ": stream open", ": ping"
                    kind = "event" if "\nevent: notification" not in "\n" + text else \
                        "notification"
                    data = [ln[6:] for ln in text.split("\n") if ln.startswith("data: ")]
                    json.loads("\n".join(data))
                self.received += 1
                self.ctx.stats.streams[f"{self.kind} {kind}s"] += 1
        except asyncio.IncompleteReadError:
            raise TransportError("server closed the stream") from None
        finally:
            stop.cancel()
            if ws:
                await ws.close()
            else:
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass


class IntakeClient:
    """/ws/intake sessions one after the other: distinct small pictures (accepted), the first
    again (duplicate), and now and then bytes that are not a picture, a truncated picture, or
    an announcement over the size limit, each with the verdict it must get."""

    def __init__(self, ctx, index, user):
        self.ctx, self.user = ctx, user
        self.rng = random.Random(ctx.seed * 104729 + index)
        self.name = f"intake #{index} ({user})"

    async def run(self):
        st = self.ctx.stats
        while not self.ctx.stop.is_set():
            try:
                await self.session()
            except (TransportError, OSError, asyncio.IncompleteReadError, ValueError,
                    KeyError) as e:
                st.streams["intake failures"] += 1
                st.fail(f"{self.name}: {type(e).__name__}: {e}")
                await asyncio.sleep(1)

    async def session(self):
        ctx, st, rng = self.ctx, self.ctx.stats, self.rng
        conn = HttpConnection(ctx.host, ctx.port, ctx.timeout)
        key = [("Authorization", "Bearer " + ctx.model.users[self.user])]
        status, _, reader, writer = await conn.upgrade("/ws/intake", key + websocket_headers())
        st.total += 1
        st.by_route[("GET /ws/intake", status)] += 1
        if status != 101:
            st.unexpected[("GET /ws/intake", status)] += 1
            st.fail(f"{self.name}: upgrade answered {status}")
            writer.close()
            await asyncio.sleep(1)
            return
        ws = WebSocket(reader, writer)
        try:
            hello = await self.message(ws)
            if hello.get("type") != "session":
                raise TransportError(f"first message {hello}")
            pictures = [random_picture(rng) for _ in range(rng.randint(1, 3))]
            plan = [(p, "accepted") for p in pictures] + [(pictures[0], "duplicate")]
            r = rng.random()
            if r < 0.2:
                plan.append((rng.randbytes(rng.randint(100, 3000)), "unsupported_type"))
            elif r < 0.35:
                whole = random_picture(rng)
                plan.append((whole[:len(whole) // 2], "corrupt"))
            elif r < 0.45:
                plan.append((None, "too_large"))
            for n, (data, want) in enumerate(plan):
                await self.send_file(ws, f"f{n}", data, want)
        finally:
            await ws.close()

    async def message(self, ws):
        while True:
            msg = await ws.recv()
            if msg is None:
                raise TransportError(f"intake closed by the server ({ws.close_code})")
            opcode, payload = msg
            if opcode == WebSocket.TEXT:
                m = json.loads(payload)
                if m.get("type") != "progress":
                    return m

    async def send_file(self, ws, cid, data, want):
        st = self.ctx.stats
        size = 6 * 1024 * 1024 if data is None else len(data)
        name = self.ctx.name("png")
        await ws.send_text(json.dumps({"type": "file", "client_file_id": cid, "name": name,
                                       "size": size}))
        m = await self.message(ws)
        if m.get("type") == "ready":
            await ws.send_binary(data)
            m = await self.message(ws)
        if m.get("type") != "verdict" or m.get("client_file_id") != cid:
            raise TransportError(f"expected the verdict of {cid}, got {m}")
        got = "accepted" if m.get("accepted") else m.get("code")
        st.verdicts[(want, got)] += 1
        st.total += 1
        st.by_route[("WS /ws/intake file", got)] += 1
        if got != want:
            st.fail(f"{self.name}: verdict {got} for a file that should be {want}: {m}")
            return
        if got == "accepted":
            obj = m["file"]
            c = Content(raw=data)
            if obj["sha256"] != c.sha256:
                st.fail(f"{self.name}: accepted file's sha256 differs from the bytes sent")
            self.ctx.model.add(obj["id"], self.user, obj["version"], c, image=True)
