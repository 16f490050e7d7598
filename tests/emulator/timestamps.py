"""Edm.DateTimeOffset as the emulator handles it: integers of 100 ns ticks.

Graph timestamps carry up to 7 fractional digits, one more than PostgreSQL
(and Python's datetime) can hold.  To compare a $filter bound with stored
values at Graph's full precision, every timestamp the emulator compares is an
integer count of 100 ns ticks since 1970-01-01T00:00:00Z (negative before).

The generator formats ticks with a chosen number of fractional digits, and
truncates the ticks to that precision first, so that the string it sends and
the integer it compares are always the same instant.
"""

import datetime
import email.utils
import re
import time

TICKS_PER_SECOND = 10_000_000
SECONDS_PER_DAY = 86_400
TICKS_PER_DAY = TICKS_PER_SECOND * SECONDS_PER_DAY

_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()

# OData's dateTimeOffsetValue: seconds are optional; we accept 0-7 fractional
# digits (what .NET's DateTimeOffset parser, behind Graph, accepts) and an
# upper-case Z or a numeric offset.
_DTO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})"
    r"(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(Z|[+-]\d{2}:\d{2})\Z")

# Day number -> "YYYY-MM-DD": the generator formats hundreds of thousands of
# timestamps that fall on a few hundred distinct days.
_day_strings = {}


def parse(text):
    """Return the ticks of an ISO 8601 DateTimeOffset, or raise ValueError.

    Accepts exactly what a $filter literal may be: no quotes, seconds
    optional, 0-7 fractional digits, 'Z' or '+hh:mm'/'-hh:mm'.
    """
    m = _DTO_RE.match(text)
    if m is None:
        raise ValueError("not a DateTimeOffset: %r" % text)
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    fraction = (m.group(7) or "").ljust(7, "0")
    # date() validates the calendar; the clock fields are checked here
    # because OData has no leap seconds and no 24:00.
    ordinal = datetime.date(year, month, day).toordinal()
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time of day out of range: %r" % text)
    offset = 0
    zone = m.group(8)
    if zone != "Z":
        off_h, off_m = int(zone[1:3]), int(zone[4:6])
        if off_h > 14 or off_m > 59:
            raise ValueError("offset out of range: %r" % text)
        offset = (off_h * 3600 + off_m * 60) * (1 if zone[0] == "+" else -1)
    seconds = ((ordinal - _EPOCH_ORDINAL) * SECONDS_PER_DAY
               + hour * 3600 + minute * 60 + second - offset)
    return seconds * TICKS_PER_SECOND + int(fraction)


def parse_generated(text):
    """Fast parse of a timestamp the generator wrote (UTC, 'Z').

    Used to build the comparison columns of whole collections, where the
    general parser's regex would dominate.  Falls back to parse() for
    anything unusual.
    """
    if len(text) >= 20 and text[-1] == "Z" and text[10] == "T":
        days = _ordinal(text) - _EPOCH_ORDINAL
        seconds = (days * SECONDS_PER_DAY + int(text[11:13]) * 3600
                   + int(text[14:16]) * 60 + int(text[17:19]))
        fraction = text[20:-1]
        return seconds * TICKS_PER_SECOND + (
            int(fraction.ljust(7, "0")) if fraction else 0)
    return parse(text)


def _ordinal(text):
    return datetime.date(int(text[0:4]), int(text[5:7]),
                         int(text[8:10])).toordinal()


def truncate(ticks, digits):
    """Drop the ticks that a string with `digits` fractional digits cannot show."""
    unit = 10 ** (7 - digits)
    return ticks - ticks % unit


def format_ticks(ticks, digits=7):
    """Format ticks as 'YYYY-MM-DDThh:mm:ss[.f]Z' with `digits` (0-7) digits.

    The caller truncates first (see truncate()); digits that would be
    dropped here are simply cut, never rounded.
    """
    days, rem = divmod(ticks, TICKS_PER_DAY)
    day = _day_strings.get(days)
    if day is None:
        day = datetime.date.fromordinal(days + _EPOCH_ORDINAL).isoformat()
        _day_strings[days] = day
    seconds, fraction = divmod(rem, TICKS_PER_SECOND)
    hh, rest = divmod(seconds, 3600)
    mm, ss = divmod(rest, 60)
    if digits == 0:
        return "%sT%02d:%02d:%02dZ" % (day, hh, mm, ss)
    return "%sT%02d:%02d:%02d.%sZ" % (
        day, hh, mm, ss, ("%07d" % fraction)[:digits])


def day_string(ticks):
    """'YYYY-MM-DD' of the UTC day holding `ticks`."""
    return format_ticks(ticks, 0)[:10]


def from_unix(seconds):
    """Ticks of a Unix time in (float) seconds."""
    return int(round(seconds * TICKS_PER_SECOND))


class Clock:
    """The emulated tenant's clock: --now at start-up, then real time runs on.

    Bodies that carry a "current" timestamp (Graph's innerError.date, the
    identity platform's error timestamp) use this clock so that they agree
    with the generated data, which all lies before --now.  The HTTP Date
    header keeps the real wall clock, as HTTP requires.
    """

    def __init__(self, now_ticks):
        self.start_ticks = now_ticks
        self._start_monotonic = time.monotonic()
        self._offset = 0            # moved by the control API (POST /_emulator/clock)

    def now_ticks(self):
        elapsed = time.monotonic() - self._start_monotonic
        return self.start_ticks + self._offset + int(elapsed * TICKS_PER_SECOND)

    def advance(self, seconds):
        """Move the emulated present by `seconds` (negative goes back)."""
        self._offset += int(round(seconds * TICKS_PER_SECOND))

    def set_now(self, ticks):
        """Make the emulated present `ticks`; it runs on from there."""
        self._offset += ticks - self.now_ticks()

    def graph_date(self):
        """innerError.date form: '2026-06-01T00:00:00' (UTC, no Z, no fraction)."""
        return format_ticks(self.now_ticks(), 0)[:-1]

    def login_timestamp(self):
        """Identity platform form: '2026-06-01 00:00:00Z'."""
        return format_ticks(self.now_ticks(), 0).replace("T", " ")


def http_date():
    """The Date header value (RFC 7231 IMF-fixdate, real wall clock)."""
    return email.utils.formatdate(usegmt=True)
