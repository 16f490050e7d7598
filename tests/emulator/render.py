"""Serialization: entity bytes, page assembly and the rendered-page cache.

The emulator must serve pages far faster than the extension can parse
them (env.md section 5: json.dumps per request caps a server at about
72k rows/s).  So:

* each entity is serialized once per variant (evolvable members kept or
  downgraded to the sentinel, times the $select set) and kept as bytes;
* a page body is a list of chunks, a small envelope head and tail around
  references to those entity bytes: nothing is joined or copied, the
  server hands the list to sendmsg() (scatter-gather), and the page costs
  the cache a few kilobytes of references.  Joining does not pay: on the
  project's VMs a fresh multi-megabyte allocation is bound by page faults
  (joining pages on their second use made that pass six times slower);
* bodies, and their gzip (compresslevel 1, streamed over the chunks, made
  on first demand), are kept in a bounded LRU keyed by everything that
  decides the body, so a repeated scan costs one lookup per page;
* a list page's gzip is its envelope head (context, count, nextLink),
  deflated on its own, followed by the deflate of its items, which is
  cached by the items themselves: a scan whose $filter is new each time
  (a snapshot bound) but selects the same entities pays for the head only.

JSON is written ASCII-only, non-ASCII characters as \\uXXXX escapes (astral
ones as surrogate pairs).  That is ODataLib's default (EscapeNonAscii),
what the services behind Graph are built on; it also halves the cost of
serializing.  Documents are never mutated; a write replaces an entity's
document (writes.py) and then drops that entity's bytes in every variant
(EntityRenderer.invalidate), and list bodies are keyed by the data
generation (graph.py), so nothing stale is served after a write.
"""

import concurrent.futures
import json
import struct
import threading
import zlib
from collections import OrderedDict

_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"),
                            check_circular=False, allow_nan=False)

#: select variants kept per collection besides the two full ones
MAX_SELECT_VARIANTS = 32


def dumps(obj):
    """Compact JSON bytes, ASCII only (see the module docstring)."""
    return _encoder.encode(obj).encode("ascii")


def downgrade(value, path, enum):
    """`value` with evolvable members of `enum` at `path` made the sentinel.

    Copy on write: returns the very same object when nothing changes, so
    most documents need no second copy.  "*" in `path` means every item of
    a list.
    """
    if not path:
        return enum.sentinel if value in enum.evolvable else value
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(value, list):
            return value
        new = [downgrade(item, rest, enum) for item in value]
        return value if all(a is b for a, b in zip(new, value)) else new
    if not isinstance(value, dict) or head not in value:
        return value
    child = value[head]
    new_child = downgrade(child, rest, enum)
    if new_child is child:
        return value
    copy = dict(value)
    copy[head] = new_child
    return copy


class EntityRenderer:
    """The serialized bytes of each entity of one collection, per variant.

    A variant is (prefer, select): `prefer` keeps evolvable enum members,
    otherwise they become the sentinel; `select` is a tuple of property
    names or None.  The two full variants are kept for good, select
    variants in a small LRU.

    Each entity is stored as b"," + its JSON: list items() hands those to
    page_chunks() as they are, so a page needs one buffer per entity, not
    two (entity, comma), when sendmsg() writes it.  many() and one() give
    the JSON alone.
    """

    def __init__(self, collection):
        self.collection = collection
        self.enum_paths = collection.resource.enum_paths()
        self._full = {True: [None] * len(collection), False: [None] * len(collection)}
        self._selected = OrderedDict()
        self._lock = threading.Lock()

    def _slots(self, prefer, select):
        if select is None:
            return self._full[prefer]
        key = (prefer, select)
        with self._lock:
            slots = self._selected.get(key)
            if slots is None:
                # the renderer's own length: it grows before the collection
                slots = [None] * len(self._full[True])
                self._selected[key] = slots
                while len(self._selected) > MAX_SELECT_VARIANTS:
                    self._selected.popitem(last=False)
            else:
                self._selected.move_to_end(key)
        return slots

    def items(self, indices, prefer, select=None):
        """b"," + JSON of the entities at `indices`, in that order."""
        slots = self._slots(prefer, select)
        out = [slots[i] for i in indices]
        if None not in out:
            return out
        docs = self.collection.docs
        out = []
        for i in indices:
            data = slots[i]
            if data is None:
                # races with readers only repeat identical work (list stores
                # are atomic); one with a writer that replaced the document
                # meanwhile is undone by the check after the store
                doc = docs[i]
                data = slots[i] = b"," + dumps(self.variant(doc, prefer, select))
                if docs[i] is not doc:
                    slots[i] = None
            out.append(data)
        return out

    def resize(self, length):
        """Slots for `length` entities in every variant: called before
        entities are appended (so that no reader meets an index without a
        slot) and after the collection was cut back (restore)."""
        with self._lock:
            for slots in list(self._full.values()) + list(self._selected.values()):
                if len(slots) < length:
                    slots.extend([None] * (length - len(slots)))
                else:
                    del slots[length:]

    def invalidate(self, i):
        """Forget the bytes of entity i in every variant (its document was
        replaced)."""
        self._full[True][i] = None
        self._full[False][i] = None
        with self._lock:
            variants = list(self._selected.values())
        for slots in variants:
            slots[i] = None

    def many(self, indices, prefer, select=None):
        """JSON of the entities at `indices` (memoryviews, not copies)."""
        return [memoryview(item)[1:] for item in self.items(indices, prefer, select)]

    def warm(self, order, stop, select=None):
        """Serialize the Prefer variant of every entity in `order` (the full
        one, or the `select` one: the default properties of a directory
        collection).

        Run by a background thread after start-up, so that even a first
        full scan is served from bytes.  It walks from the end: a first scan
        racing it walks from the start, and they meet in the middle instead
        of serializing the same entities twice.  Returns early when `stop`
        is set.
        """
        slots = self._slots(True, select)
        docs = self.collection.docs
        for n, i in enumerate(reversed(order)):
            if n % 1000 == 0 and stop.is_set():
                return
            if slots[i] is None:
                doc = docs[i]
                slots[i] = b"," + dumps(doc if select is None
                                        else self.variant(doc, True, select))
                if docs[i] is not doc:      # replaced by a write meanwhile
                    slots[i] = None

    def one(self, i, prefer, select=None):
        return self.many((i,), prefer, select)[0]

    def document(self, i, prefer, select=None):
        """The dict a response carries for entity `i` in this variant."""
        return self.variant(self.collection.docs[i], prefer, select)

    def variant(self, doc, prefer, select=None):
        """`doc` as this variant shows it."""
        if not prefer:
            for path, enum in self.enum_paths:
                doc = downgrade(doc, path, enum)
        if select is not None:
            keep = set(select)
            keep.update(("id", "@odata.type"))
            doc = {k: v for k, v in doc.items() if k in keep}
        return doc


# --- envelopes ---------------------------------------------------------------------------

def page_chunks(context, items, count=None, next_link=None):
    """A collection body as chunks: context, [count], [nextLink], value.

    `items` are b"," + entity JSON (EntityRenderer.items()); they are
    referenced, not copied, the first one without its comma.
    """
    head = [b'{"@odata.context":', dumps(context)]
    if count is not None:
        head.append(b',"@odata.count":%d' % count)
    if next_link is not None:
        head.append(b',"@odata.nextLink":')
        head.append(dumps(next_link))
    head.append(b',"value":[')
    chunks = [b"".join(head)]
    if items:
        chunks.append(memoryview(items[0])[1:])
        chunks.extend(items[1:])
    chunks.append(b"]}")
    return chunks


def entity_chunks(context, data):
    """A single-entity body: the entity's members after "@odata.context"."""
    return [b'{"@odata.context":' + dumps(context) + b",", memoryview(data)[1:]]


def with_navigation(data, name, items):
    """Entity bytes with a navigation property (e.g. "alerts") appended."""
    return b"".join((data[:-1], b',"', name.encode(), b'":[', b",".join(items), b"]}"))


# --- bodies and the page cache --------------------------------------------------------------

class Body:
    """A response body: chunks of bytes, their total length, the row count.

    gzipped() compresses once, on first demand, and tells the PageCache
    holding the body (if any) about the memory that added.
    """

    __slots__ = ("chunks", "length", "rows", "_gzip", "_owner", "_items")

    def __init__(self, chunks, rows=0, items=None):
        self.chunks = chunks
        self.length = sum(map(len, chunks))
        self.rows = rows
        self._gzip = None
        self._owner = None
        # a list page: chunks[0] is its head, chunks[1:] its items and
        # tail, which `items` (the entity bytes) decide
        self._items = items

    @classmethod
    def of(cls, data, rows=0):
        return cls([data], rows)

    def join(self):
        return b"".join(self.chunks)

    def gzipped(self):
        if self._gzip is None:
            if self._items is not None:
                self._gzip = gzip_page(self.chunks, self.length, tuple(self._items))
            else:
                self._gzip = gzip_chunks(self.chunks, self.length)
            if self._owner is not None:
                self._owner[0].grow(self._owner[1], len(self._gzip))
        return self._gzip


# --- gzip ------------------------------------------------------------------------------------

# mtime 0, no flags, OS unknown: identical bodies give identical bytes
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
PARALLEL_GZIP_BYTES = 512 << 10     # below this one thread is quicker
WINDOW = 32 << 10                   # deflate's history window
_BATCH = 256 << 10                  # bytes handed to one compress() call
_pool = None
_pool_lock = threading.Lock()


def _gzip_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(1, "gzip")
        return _pool


def _batches(chunks):
    """Chunks regrouped into buffers of about _BATCH bytes, so that each
    compress() call releases the GIL for a useful stretch."""
    group, size = [], 0
    for chunk in chunks:
        group.append(chunk)
        size += len(chunk)
        if size >= _BATCH:
            yield b"".join(group)
            group, size = [], 0
    if group:
        yield b"".join(group)


def _deflate(chunks, zdict, mode):
    """Raw deflate of `chunks` (level 1), primed with `zdict`, ended by `mode`."""
    if zdict:
        z = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict)
    else:
        z = zlib.compressobj(1, zlib.DEFLATED, -15)
    out = [z.compress(batch) for batch in _batches(chunks)]
    out.append(z.flush(mode))
    return b"".join(out)


def _tail(chunks, size):
    """The last `size` bytes of the concatenated chunks."""
    picked, have = [], 0
    for chunk in reversed(chunks):
        picked.append(chunk)
        have += len(chunk)
        if have >= size:
            break
    return b"".join(reversed(picked))[-size:]


_ITEMS_CACHE_BYTES = 256 << 20
# tuple of entity bytes -> (raw deflate, CRC-32, length, shift) of the
# page after its head; shift is what combines a head's CRC with it
_items_cache = OrderedDict()
_items_cache_size = 0
_items_lock = threading.Lock()


def gzip_page(chunks, length, key):
    """gzip of a list page: its head as a stored deflate block (byte
    aligned, not final: no compressor to set up for a few hundred bytes),
    then the raw deflate of the rest, which knows no bytes before it and so
    is valid after any head.  That part, its CRC and length are cached by
    `key`, the page's entity bytes (held, so never confused with others);
    the page's CRC combines the head's with the cached one."""
    global _items_cache_size
    with _items_lock:
        rest = _items_cache.get(key)
        if rest is not None:
            _items_cache.move_to_end(key)
    if rest is None:
        tail = chunks[1:]
        rest_length = length - len(chunks[0])
        rest = (raw_deflate(tail, rest_length), _crc(tail), rest_length,
                crc32_shift(rest_length))
        with _items_lock:
            if key not in _items_cache:
                _items_cache[key] = rest
                _items_cache_size += len(rest[0]) + 8 * len(key)
                while _items_cache_size > _ITEMS_CACHE_BYTES and len(_items_cache) > 1:
                    old_key, old = _items_cache.popitem(last=False)
                    _items_cache_size -= len(old[0]) + 8 * len(old_key)
    deflated, rest_crc, _, shift = rest
    head = chunks[0]
    crc = crc32_combine(zlib.crc32(head), rest_crc, shift)
    return b"".join((GZIP_HEADER, stored_blocks(head), deflated,
                     struct.pack("<II", crc, length & 0xFFFFFFFF)))


def stored_blocks(data):
    """`data` as stored (uncompressed) deflate blocks, none of them final."""
    out = []
    for i in range(0, len(data), 0xFFFF):
        part = data[i:i + 0xFFFF]
        out.append(struct.pack("<BHH", 0, len(part), len(part) ^ 0xFFFF))
        out.append(part)
    return b"".join(out)


# --- CRC-32 of a concatenation -----------------------------------------------------------------
#
# CRC-32 is linear over GF(2): the CRC of A + B is the CRC of A multiplied
# by x^(8 * len(B)) modulo the CRC polynomial, plus the CRC of B.  Bits
# are reflected as in zlib.crc32: bit 31 stands for x^0.

_CRC_POLY = 0xEDB88320


def _gf2_mulmod(a, b):
    """a * b modulo the CRC-32 polynomial (reflected bit order)."""
    product = 0
    bit = 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


# x^(2^k) modulo the polynomial, k = 0..63
_X_POW2 = [1 << 30]
for _ in range(63):
    _X_POW2.append(_gf2_mulmod(_X_POW2[-1], _X_POW2[-1]))


def crc32_shift(length):
    """x^(8 * length) modulo the polynomial: what crc32_combine() needs to
    put `length` bytes after a CRC."""
    n, k, shift = length, 3, 1 << 31
    while n:
        if n & 1:
            shift = _gf2_mulmod(_X_POW2[k], shift)
        n >>= 1
        k += 1
    return shift


def crc32_combine(crc_a, crc_b, shift_b):
    """zlib.crc32(A + B) from zlib.crc32(A), zlib.crc32(B) and
    crc32_shift(len(B))."""
    return _gf2_mulmod(shift_b, crc_a) ^ crc_b


def _crc(chunks):
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return crc


def gzip_chunks(chunks, length):
    """One gzip member (compresslevel 1) of the concatenated chunks."""
    return GZIP_HEADER + raw_deflate(chunks, length) + _trailer(chunks, length)


def raw_deflate(chunks, length):
    """Raw deflate (compresslevel 1, final) of the concatenated chunks.

    A large body is compressed as two halves at once, the way pigz does:
    the first half ends with a sync flush (byte-aligned, not final), the
    second is primed with the first half's last 32 KB so its back
    references stay valid, and the two raw deflate outputs concatenate
    into a single ordinary deflate stream.  zlib releases the GIL while
    compressing, and the client is idle while it waits for the page, so
    the second core is free.
    """
    if length < PARALLEL_GZIP_BYTES or len(chunks) < 2:
        return _deflate(chunks, None, zlib.Z_FINISH)
    half, size = 0, 0
    while size < length // 2:
        size += len(chunks[half])
        half += 1
    first, second = chunks[:half], chunks[half:]
    future = _gzip_pool().submit(_deflate, first, None, zlib.Z_SYNC_FLUSH)
    rest = _deflate(second, _tail(first, WINDOW), zlib.Z_FINISH)
    return future.result() + rest


def _trailer(chunks, length):
    return struct.pack("<II", _crc(chunks), length & 0xFFFFFFFF)


class PageCache:
    """Bounded LRU of Body objects keyed by what decides a response body.

    A cached page costs its chunk list (references) and, once made, its
    gzip bytes; the entity bytes it refers to belong to the renderers.
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()       # key -> (body, cost)
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _cost(body):
        return 64 + 8 * len(body.chunks) + (len(body._gzip) if body._gzip else 0)

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key, body):
        cost = self._cost(body)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._entries[key] = (body, cost)
            body._owner = (self, key)
            self._size += cost
            self._evict()

    def stats(self):
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._size,
                    "hits": self.hits, "misses": self.misses}

    def clear(self):
        """Drop every body (the data changed; keys of new requests differ
        anyway, this only gives the memory back)."""
        with self._lock:
            for body, _ in self._entries.values():
                body._owner = None
            self._entries.clear()
            self._size = 0

    def grow(self, key, extra):
        """Account for memory a cached body gained (its gzip)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[0], entry[1] + extra)
                self._size += extra
                self._evict()

    def _evict(self):
        while self._size > self.max_bytes and len(self._entries) > 1:
            _, (body, cost) = self._entries.popitem(last=False)
            body._owner = None
            self._size -= cost
