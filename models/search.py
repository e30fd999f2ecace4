"""``contains, case-insensitive`` on a text column, shaped so an index can serve it.

The answer is always ``column ILIKE '%term%'`` with ``%``, ``_`` and ``\\``
escaped, so they match themselves (SQLite's ``LIKE`` already ignores ASCII case).

On PostgreSQL a ``pg_trgm`` GIN index serves that ``ILIKE`` by intersecting the
posting lists of the term's trigrams. A term that joins a word most names hold
with a rare one (``product 12345`` in a catalog of ``Bulk product N``) makes
the index read the long lists of the common word's trigrams too: about 1,650
index pages for 11 rows on a million products. So when the column's statistics
(``pg_stats``, kept by ANALYZE) say that one word of the term is common and
another is rare, the search becomes

    column ILIKE '%rare%' AND (column || '') ILIKE '%whole term%'

The first condition drives the index with the rare word's trigrams only; the
second is the exact test, on an expression no index covers, so the planner
keeps it as a filter on the few rows the index found instead of folding the
common trigrams back into the index scan. Every row the whole term matches
contains the word (it is a piece of the term), so the rows are the same ones.
"""

import re
import threading
import time

from sqlalchemy import and_, text

from extensions import db

# A word as pg_trgm cuts them (letters and digits); shorter than 3 characters,
# it has no trigram of its own to drive the index.
_WORD = re.compile(r"[^\W_]+")
MIN_WORD = 3
# A word found in more than this share of the sampled values is common: its
# trigrams' posting lists are long.
COMMON = 0.05
# How long a process keeps a column's sample before reading pg_stats again.
# Stale statistics can only make a search slower, never change its rows.
SAMPLE_TTL = 300.0

_STATS = text(
    "SELECT null_frac, most_common_vals::text::text[], most_common_freqs,"
    " histogram_bounds::text::text[] FROM pg_stats"
    " WHERE schemaname = current_schema() AND tablename = :table AND attname = :column"
)


def contains_text(column, term):
    """``column`` contains ``term``, ignoring case; ``%``, ``_`` and ``\\`` match
    themselves instead of acting as LIKE wildcards."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    matches = column.ilike(pattern, escape="\\")
    if db.engine.dialect.name != "postgresql":
        return matches
    word = _rare_word(column, term)
    if word is None:
        return matches
    # The word is letters and digits only: nothing in it to escape.
    return and_(column.ilike(f"%{word}%"), (column + "").ilike(pattern, escape="\\"))


def _rare_word(column, term):
    """The word of ``term`` to drive the trigram index with, or ``None`` to use
    the whole term: only when another word of it is common and this one is not."""
    words = {word.lower() for word in _WORD.findall(term) if len(word) >= MIN_WORD}
    if len(words) < 2:
        return None
    sample = SAMPLES.get(column)
    if sample is None:
        return None
    shares = {word: sample.share(word) for word in words}
    rarest = min(shares, key=lambda word: (shares[word], -len(word)))
    if shares[rarest] > COMMON or max(shares.values()) <= COMMON:
        return None
    return rarest


class Sample:
    """What ANALYZE sampled of a column: its most common values with their
    shares, and the histogram bounds standing for the rest in equal parts."""

    def __init__(self, null_frac, common, common_freqs, bounds):
        self.common = [
            (value.lower(), freq) for value, freq in zip(common, common_freqs, strict=True)
        ]
        self.bounds = [value.lower() for value in bounds]
        self.rest = max(0.0, 1.0 - null_frac - sum(common_freqs))

    def share(self, word):
        """About which share of the rows contain ``word`` (lower case)."""
        found = sum(freq for value, freq in self.common if word in value)
        if self.bounds:
            found += self.rest * sum(word in value for value in self.bounds) / len(self.bounds)
        return found


class Samples:
    """Each column's ``Sample``, read from ``pg_stats`` at most every
    ``SAMPLE_TTL`` seconds per process and database."""

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, column):
        """The column's sample, or ``None`` before its table was ever analysed."""
        key = (str(db.engine.url), column.table.name, column.name)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < SAMPLE_TTL:
            return entry[1]
        row = db.session.execute(
            _STATS, {"table": column.table.name, "column": column.name}
        ).first()
        sample = None
        if row is not None and (row[1] or row[3]):
            sample = Sample(row[0] or 0.0, row[1] or [], row[2] or [], row[3] or [])
        with self._lock:
            self._entries[key] = (now, sample)
        return sample

    def clear(self):
        """Forget every sample (after an ANALYZE that must be seen at once)."""
        with self._lock:
            self._entries.clear()


SAMPLES = Samples()
