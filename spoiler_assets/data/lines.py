"""Source files as numbered lines, streamed as bytes, so that no line can sink a file.

A file is read in fixed-size chunks and split on newlines here, not by a text wrapper:
a line over the size cap is never held whole (at most the cap, plus one chunk, is in
memory; the rest is skipped up to the next newline), and a line of invalid UTF-8 is
refused alone instead of failing the file. A UTF-8 byte order mark at the start is
dropped, and a `.gz` file is decompressed on the fly.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import fsspec

# 1 MiB: the longest line of the Kaggle files (a movie's plot synopsis) is far shorter.
DEFAULT_MAX_LINE_BYTES = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
# What a quarantine record keeps of a refused line.
MAX_QUARANTINED_TEXT = 2_000
_CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class SourceLine:
    """One non-blank line: its text, or why it cannot be read at all (then `text` holds
    what can be shown of it, at most `MAX_QUARANTINED_TEXT` characters)."""

    line_no: int
    text: str
    error: str | None = None


def byte_lines(
    stream: BinaryIO, max_line_bytes: int, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[tuple[int, bytes, int]]:
    """Yield `(line_no, kept, size)` for every line of `stream`, without its newline.

    `kept` is the whole line when `size <= max_line_bytes`; for a longer line it is only
    its first `max_line_bytes + 1` bytes, and the rest was read and dropped.
    """
    line_no, size, kept = 1, 0, bytearray()
    for chunk in _chunks(stream, chunk_bytes):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            stop = len(chunk) if end < 0 else end
            room = max_line_bytes + 1 - len(kept)
            if room > 0:
                kept += chunk[start : min(stop, start + room)]
            size += stop - start
            if end < 0:
                break
            yield line_no, bytes(kept), size
            line_no, size, start = line_no + 1, 0, end + 1
            kept.clear()
    if size:
        yield line_no, bytes(kept), size


def _chunks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """The stream's bytes, less a leading byte order mark."""
    head = b""
    while len(head) < len(UTF8_BOM) and (more := stream.read(len(UTF8_BOM) - len(head))):
        head += more
    if head != UTF8_BOM:
        yield head
    while chunk := stream.read(chunk_bytes):
        yield chunk


def source_lines(
    uri: str,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    storage_options: Mapping[str, Any] | None = None,
) -> Iterator[SourceLine]:
    """The non-blank lines of a local or s3:// file (gzip when its name ends in `.gz`).

    Raises:
        ValueError: the file is a `.gz` that is not gzip or is cut short; its lines
            up to that point have been yielded, so the caller refuses the whole file.
    """
    try:
        with fsspec.open(uri, "rb", compression="infer", **(storage_options or {})) as stream:
            for line_no, kept, size in byte_lines(stream, max_line_bytes):
                if size > max_line_bytes:
                    reason = f"line of {size:,} bytes is over the {max_line_bytes:,}-byte limit"
                    yield SourceLine(line_no, _shown(kept), reason)
                    continue
                try:
                    text = kept.decode("utf-8")
                except UnicodeDecodeError as err:
                    yield SourceLine(line_no, _shown(kept), f"not UTF-8 ({err.reason} at byte {err.start})")
                    continue
                if text.strip():
                    yield SourceLine(line_no, text)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{uri}: not a readable gzip file ({err})") from err


def _shown(kept: bytes) -> str:
    return kept[:MAX_QUARANTINED_TEXT].decode("utf-8", errors="replace")
