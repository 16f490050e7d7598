"""A minimal PostgreSQL client: the simple query protocol over a Unix socket.

Just what the fuzz driver needs, with the standard library only: every
value as text, the full ErrorResponse (SQLSTATE, message, detail), the
rows that arrived before an error, and the backend's pid from
BackendKeyData.  A connection that the server drops (a crashed backend)
raises ConnectionLost instead of hanging.  Trust authentication only: the
driver runs against a throwaway cluster.
"""

import socket
import struct


class ConnectionLost(Exception):
    """The server closed the connection (or the socket failed)."""


class Result:
    """What one query gave: column names, rows (tuples of str or None), and
    the error fields (code, message, detail, ...) if it failed."""

    def __init__(self):
        self.columns = []
        self.rows = []
        self.error = None
        self.notices = []

    @property
    def sqlstate(self):
        return self.error.get("C") if self.error else None


ERROR_FIELDS = {"S": "severity", "V": "severity", "C": "code", "M": "message",
                "D": "detail", "H": "hint", "W": "context"}


class Connection:
    def __init__(self, socket_dir, port, user="postgres", database="postgres",
                 timeout=120.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect("%s/.s.PGSQL.%d" % (socket_dir, port))
        self.file = self.sock.makefile("rb")
        self.pid = None
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (
            ("user", user), ("database", database), ("application_name", "msgraph_fuzz"),
            ("client_encoding", "UTF8")))
        body = struct.pack("!i", 196608) + params + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        while True:
            kind, data = self._read()
            if kind == b"R":
                (code,) = struct.unpack("!i", data[:4])
                if code != 0:
                    raise ConnectionLost("the server wants authentication %d" % code)
            elif kind == b"K":
                self.pid, _ = struct.unpack("!ii", data)
            elif kind == b"E":
                raise ConnectionLost("connection refused: %r" % _fields(data))
            elif kind == b"Z":
                return

    def _read(self):
        head = self.file.read(5)
        if len(head) < 5:
            raise ConnectionLost("the server closed the connection")
        kind = head[:1]
        (length,) = struct.unpack("!i", head[1:])
        data = self.file.read(length - 4)
        if len(data) < length - 4:
            raise ConnectionLost("the server closed the connection mid-message")
        return kind, data

    def query(self, sql):
        """Run one statement (or several); a Result.  Raises ConnectionLost."""
        payload = sql.encode("utf-8") + b"\0"
        try:
            self.sock.sendall(b"Q" + struct.pack("!i", len(payload) + 4) + payload)
        except OSError as e:
            raise ConnectionLost(str(e)) from None
        result = Result()
        while True:
            try:
                kind, data = self._read()
            except (OSError, socket.timeout) as e:
                raise ConnectionLost(str(e)) from None
            if kind == b"T":
                (n,) = struct.unpack("!h", data[:2])
                pos, names = 2, []
                for _ in range(n):
                    end = data.index(b"\0", pos)
                    names.append(data[pos:end].decode("utf-8", "replace"))
                    pos = end + 1 + 18
                result.columns = names
            elif kind == b"D":
                (n,) = struct.unpack("!h", data[:2])
                pos, row = 2, []
                for _ in range(n):
                    (size,) = struct.unpack("!i", data[pos:pos + 4])
                    pos += 4
                    if size < 0:
                        row.append(None)
                    else:
                        row.append(data[pos:pos + size].decode("utf-8", "replace"))
                        pos += size
                result.rows.append(tuple(row))
            elif kind == b"E":
                result.error = _fields(data)
            elif kind == b"N":
                result.notices.append(_fields(data))
            elif kind == b"Z":
                return result
            # C (complete), I (empty), S (parameter status), A (notify): nothing to keep

    def scalar(self, sql):
        result = self.query(sql)
        if result.error:
            raise RuntimeError("%s: %s" % (sql, result.error.get("M")))
        return result.rows[0][0] if result.rows else None

    def execute(self, sql):
        result = self.query(sql)
        if result.error:
            raise RuntimeError("%s\n-> %s %s" % (sql[:300], result.error.get("C"),
                                                 result.error.get("M")))
        return result

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()


def _fields(data):
    out = {}
    for part in data.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode("utf-8", "replace")
    return out


def literal(text):
    """A SQL string literal (standard_conforming_strings on) for text."""
    if "\x00" in text:
        raise ValueError("a SQL literal cannot hold U+0000")
    return "'" + text.replace("'", "''") + "'"
