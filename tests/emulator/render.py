"""Serialization: entity bytes, page assembly and the rendered-page cache.

The emulator must serve pages far faster than the extension can parse
them (env.md section 5: json.dumps per request caps a server at about
72k rows/s).  So:

* each entity is serialized once per variant (evolvable members kept or
  downgraded to the sentinel, times the $select set) and kept as bytes;
* a page is the join of those bytes between a small envelope head and tail;
* whole response bodies, and their gzip (compresslevel 1) made on first
  demand, are kept in a bounded LRU keyed by everything that decides the
  body, so a repeated scan costs one dictionary lookup per page.

Documents are never mutated, so cached bytes never go stale; a future
writer (PATCH) will have to drop the entity's cached variants.
"""

import gzip
import json
import threading
from collections import OrderedDict

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                            check_circular=False, allow_nan=False)

#: select variants kept per collection besides the two full ones
MAX_SELECT_VARIANTS = 32


def dumps(obj):
    """Compact UTF-8 JSON bytes, non-ASCII left as is (as Graph sends it)."""
    return _encoder.encode(obj).encode("utf-8")


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
                slots = [None] * len(self.collection)
                self._selected[key] = slots
                while len(self._selected) > MAX_SELECT_VARIANTS:
                    self._selected.popitem(last=False)
            else:
                self._selected.move_to_end(key)
        return slots

    def many(self, indices, prefer, select=None):
        """Bytes of the entities at `indices`, in that order."""
        slots = self._slots(prefer, select)
        out = []
        for i in indices:
            data = slots[i]
            if data is None:
                # races only repeat identical work: list stores are atomic
                data = slots[i] = dumps(self.document(i, prefer, select))
            out.append(data)
        return out

    def one(self, i, prefer, select=None):
        return self.many((i,), prefer, select)[0]

    def document(self, i, prefer, select=None):
        """The dict a response carries for entity `i` in this variant."""
        doc = self.collection.docs[i]
        if not prefer:
            for path, enum in self.enum_paths:
                doc = downgrade(doc, path, enum)
        if select is not None:
            keep = set(select)
            keep.update(("id", "@odata.type"))
            doc = {k: v for k, v in doc.items() if k in keep}
        return doc


# --- envelopes ---------------------------------------------------------------------------

def page_bytes(context, items, count=None, next_link=None):
    """A collection body: context, [count], [nextLink], value (in that order)."""
    head = [b'{"@odata.context":', dumps(context)]
    if count is not None:
        head.append(b',"@odata.count":%d' % count)
    if next_link is not None:
        head.append(b',"@odata.nextLink":')
        head.append(dumps(next_link))
    head.append(b',"value":[')
    return b"".join((b"".join(head), b",".join(items), b"]}"))


def entity_bytes(context, data):
    """A single-entity body: the entity's members after "@odata.context"."""
    return b"".join((b'{"@odata.context":', dumps(context), b",", data[1:]))


def with_navigation(data, name, items):
    """Entity bytes with a navigation property (e.g. "alerts") appended."""
    return b"".join((data[:-1], b',"', name.encode(), b'":[', b",".join(items), b"]}"))


# --- bodies and the page cache --------------------------------------------------------------

class Body:
    """A response body with its gzip made once, on first demand."""

    __slots__ = ("data", "rows", "_gzip")

    def __init__(self, data, rows):
        self.data = data
        self.rows = rows
        self._gzip = None

    def gzipped(self):
        if self._gzip is None:
            # mtime=0: identical bodies compress to identical bytes
            self._gzip = gzip.compress(self.data, compresslevel=1, mtime=0)
        return self._gzip


class PageCache:
    """Bounded LRU of Body objects keyed by what decides a response body.

    The bound counts plain bytes plus an allowance of a quarter for the
    gzip copy (the ratio of level-1 gzip on this JSON is about 1:5).
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _cost(body):
        return len(body.data) + len(body.data) // 4

    def get(self, key):
        with self._lock:
            body = self._entries.get(key)
            if body is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key, body):
        cost = self._cost(body)
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= self._cost(old)
            self._entries[key] = body
            self._size += cost
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= self._cost(evicted)
