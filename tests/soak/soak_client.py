"""Minimal asyncio clients for the soak: HTTP/1.1 keep-alive, WebSocket (RFC 6455) and SSE.

Standard library only (Debian's python3), so the soak needs nothing installed. Each client owns
one TCP connection; nothing here is shared between tasks.
"""
import asyncio
import base64
import os

# Ample for any response header sharebox sends; also StreamReader's line limit.
HEADER_LIMIT = 256 * 1024


class TransportError(Exception):
    """The connection failed or the peer broke the protocol (not an HTTP status)."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (the last one wins)
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)


async def _read_head(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            raise TransportError("connection closed before the response") from None
        raise TransportError(f"connection closed inside the response header: {e.partial[:200]!r}")
    except asyncio.LimitOverrunError:
        raise TransportError("response header too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise TransportError(f"malformed status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise TransportError(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_chunked(reader):
    out = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(out)
        out += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise TransportError("chunk not followed by CRLF")


class HttpConnection:
    """One keep-alive connection; reconnects on the next request after the server closed it."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.host_header = f"{host}:{port}"
        self.reader = self.writer = None
        self.connects = 0

    @property
    def is_open(self):
        return self.writer is not None

    async def _connect(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=HEADER_LIMIT), self.timeout)
        self.connects += 1

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def aclose(self):
        w = self.writer
        self.close()
        if w is not None:
            try:
                await w.wait_closed()
            except OSError:
                pass

    def _encode(self, method, target, headers, body):
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def request(self, method, target, headers=(), body=b""):
        """The response, or TransportError. A request is never retried: on a connection the
        server closed while idle it fails, which the soak counts (it should not happen)."""
        try:
            return await asyncio.wait_for(self._exchange(method, target, headers, body),
                                          self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise TransportError(f"no complete response within {self.timeout:.0f} s") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            self.close()
            raise TransportError(f"{type(e).__name__}: {e}") from None
        except TransportError:
            self.close()
            raise

    async def _exchange(self, method, target, headers, body):
        if self.writer is None:
            await self._connect()
        self.writer.write(self._encode(method, target, headers, body))
        if body:
            self.writer.write(body)
        try:
            await self.writer.drain()
        except ConnectionError:
            # The server may answer early (401, 412, 413) and stop reading: its answer is
            # still in our receive buffer (it closes lingering, never with a reset).
            pass
        status, hdrs = await _read_head(self.reader)
        if method == "HEAD" or status in (204, 304) or status < 200:
            data = b""
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            data = await _read_chunked(self.reader)
        elif "content-length" in hdrs:
            data = await self.reader.readexactly(int(hdrs["content-length"]))
        else:
            data = await self.reader.read()  # until the server closes
            self.close()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return Response(status, hdrs, data)

    async def upgrade(self, target, headers=()):
        """Sends an upgrade or streaming GET and returns (status, headers, reader, writer); the
        connection then belongs to the caller (this object forgets it)."""
        if self.writer is None:
            await self._connect()
        self.writer.write(self._encode("GET", target, headers, b""))
        await self.writer.drain()
        status, hdrs = await asyncio.wait_for(_read_head(self.reader), self.timeout)
        reader, writer = self.reader, self.writer
        self.reader = self.writer = None
        return status, hdrs, reader, writer


def websocket_headers():
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode())]


def _mask(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    # Whole-buffer XOR through big integers: C speed, no per-byte Python loop.
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


class WebSocket:
    """Client side of an upgraded connection: masked frames out, pings answered."""

    TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.close_code = None  # set once the server's close frame arrived

    async def _send_frame(self, opcode, payload):
        key = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        self.writer.write(head + key + _mask(payload, key))
        await self.writer.drain()

    async def send_text(self, text):
        await self._send_frame(self.TEXT, text.encode())

    async def send_binary(self, data):
        await self._send_frame(self.BINARY, data)

    async def recv(self):
        """(opcode, payload) of the next data message; None once the server closed."""
        message, message_opcode = bytearray(), None
        while True:
            b0, b1 = await self.reader.readexactly(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if b1 & 0x80:
                raise TransportError("masked frame from the server")
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(n)
            if opcode == self.PING:
                await self._send_frame(self.PONG, payload)
                continue
            if opcode == self.PONG:
                continue
            if opcode == self.CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                try:
                    await self._send_frame(self.CLOSE, payload[:2])
                except ConnectionError:
                    pass
                return None
            if opcode != 0:
                message_opcode = opcode
            message += payload
            if b0 & 0x80:
                return message_opcode, bytes(message)

    async def close(self, code=1000, timeout=10):
        """Client-initiated close handshake, then the TCP close."""
        async def handshake():
            await self._send_frame(self.CLOSE, code.to_bytes(2, "big"))
            while self.close_code is None:
                if await self.recv() is None:
                    break

        try:
            await asyncio.wait_for(handshake(), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, TransportError):
            pass
        finally:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
