#!/usr/bin/python3
"""Seed corpus for fuzz_page: small pages of every resource of the
emulator's tenant (escaped ASCII and raw UTF-8), and pieces of the hostile
shapes the unit test knows."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "emulator"))

import graph_emulator   # noqa: E402
import tenant           # noqa: E402
import timestamps       # noqa: E402

SHAPES = [b'{"value":[]}', b'{"a":1,"a":2}', b'{"a":"\\ud800"}', b'{"a":"\xed\xa0\x80"}',
          b'[18446744073709551615,-9223372036854775808,1e400]', b'{"a\\u0000":1}',
          b'{"value":[{"id":"x","t":"\\ud83d\\ude00"}],"@odata.nextLink":"http://h/x"}',
          b'[' * 64 + b']' * 64, b'{"\\u0061":1,"b":{"a":2}}']


def main(out):
    os.makedirs(out, exist_ok=True)
    counts = dict.fromkeys(graph_emulator.counts_from(graph_emulator.parse_args([])), 6)
    data = tenant.Tenant("7", timestamps.parse("2026-06-01T00:00:00Z"), counts)
    n = 0
    for name, coll in data.collections.items():
        for ascii_only in (True, False):
            page = {"@odata.context": "http://127.0.0.1/v1.0/$metadata#" + name,
                    "@odata.nextLink": "http://127.0.0.1/v1.0/%s?$skip=3" % name,
                    "value": coll.docs[:3]}
            with open(os.path.join(out, "page%d.json" % n), "wb") as f:
                f.write(json.dumps(page, ensure_ascii=ascii_only,
                                   separators=(",", ":")).encode("utf-8"))
            n += 1
    for i, shape in enumerate(SHAPES):
        with open(os.path.join(out, "shape%d.json" % i), "wb") as f:
            f.write(shape)


if __name__ == "__main__":
    main(sys.argv[1])
