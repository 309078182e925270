"""Which review months each source or landed file holds, so that a run for some months
reads only the files that hold them.

An entry belongs to one version of a file (size, modification time, ETag): a file
replaced under the same name has no entry and is read again. Only what a read saw is
recorded: a month absent from an incomplete entry is unknown, and an unknown month is
read. A missing or unreadable entry therefore costs a read, never a row.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from spoiler_assets.data.kaggle import ReviewReadResult


@dataclass(frozen=True)
class FileMonths:
    """Rows per month of one file version.

    Attributes:
        version: the file's version string, as listed.
        rows: month -> rows the file gives that month (0 recorded when a read looked for
            it; a file refused whole gives none).
        complete: every month of the file is in `rows` (absent months hold nothing).
    """

    version: str
    rows: Mapping[str, int] = field(default_factory=dict)
    complete: bool = False

    def may_hold(self, month: str) -> bool:
        """False only when this file is known to hold no row of `month`."""
        if month in self.rows:
            return self.rows[month] > 0
        return not self.complete

    def must_read(self, months: Collection[str]) -> bool:
        return any(self.may_hold(m) for m in months)

    def merged(self, other: FileMonths) -> FileMonths:
        """What two reads of the same version saw together (`other` of another version wins)."""
        if other.version != self.version:
            return other
        return FileMonths(self.version, {**self.rows, **other.rows}, self.complete or other.complete)

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "rows": dict(self.rows), "complete": self.complete})

    @classmethod
    def from_json(cls, text: str) -> FileMonths | None:
        """The entry, or None when the text is not one (a torn or foreign file)."""
        try:
            obj = json.loads(text)
            rows = {str(m): int(n) for m, n in dict(obj["rows"]).items()}
            return cls(str(obj["version"]), rows, bool(obj["complete"]))
        except (ValueError, TypeError, KeyError):
            return None


def months_seen(version: str, result: ReviewReadResult, months: Collection[str] | None) -> FileMonths:
    """The entry a read of `months` (None: every month) produced. Rows of the other months
    were only counted, so the entry is complete only when there were none."""
    rows = {m: len(frame) for m, frame in result.by_month.items()}
    if months is None:
        rows = {m: n for m, n in rows.items() if n}
    return FileMonths(version, rows, complete=months is None or result.n_other_months == 0)


def needs_read(entry: FileMonths | None, version: str, months: Collection[str]) -> bool:
    """Whether a file at `version` must be read for `months`, given its recorded entry."""
    return entry is None or entry.version != version or entry.must_read(months)
