import io
import tracemalloc
from pathlib import Path

import pytest

from spoiler_assets.data.lines import UTF8_BOM, byte_lines, source_lines


class _OneHugeLine(io.RawIOBase):
    """A stream of `size` bytes of one line (then a short one), made as it is read: the
    only copy of the long line that can exist in memory is one the reader keeps."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.tail = b"\n{}\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        if self.left == 0:
            n = min(len(buffer), len(self.tail))
            buffer[:n], self.tail = self.tail[:n], self.tail[n:]
            return n
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_a_line_over_the_cap_is_never_held_whole() -> None:
    size, cap = 64 * 2**20, 2**20
    stream = io.BufferedReader(_OneHugeLine(size))
    tracemalloc.start()
    try:
        lines = [(n, len(kept), length) for n, kept, length in byte_lines(stream, cap)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [(1, cap + 1, size), (2, 2, 2)]
    assert peak < 4 * cap, f"peak {peak:,} bytes while reading a {size:,}-byte line"


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 1 << 16])
def test_lines_split_across_chunks_come_back_whole(chunk_bytes: int) -> None:
    data = UTF8_BOM + b"first\r\n\nsecond line\n" + b"y" * 20 + b"\nlast, no newline"
    lines = list(byte_lines(io.BytesIO(data), max_line_bytes=10, chunk_bytes=chunk_bytes))
    assert [(n, kept, size) for n, kept, size in lines] == [
        (1, b"first\r", 6),
        (2, b"", 0),
        (3, b"second line", 11),  # over the cap of 10: its first 11 bytes are kept
        (4, b"y" * 11, 20),
        (5, b"last, no ne", 16),
    ]


def test_source_lines_quarantine_reasons_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_bytes(UTF8_BOM + b'{"a": 1}\n\n   \n{"b": "\xff"}\n' + b"z" * 50 + b"\n")
    lines = list(source_lines(str(path), max_line_bytes=20))
    assert [(line.line_no, line.error) for line in lines] == [
        (1, None),
        (4, "not UTF-8 (invalid start byte at byte 7)"),
        (5, "line of 50 bytes is over the 20-byte limit"),
    ]
    assert lines[0].text == '{"a": 1}' and lines[1].text == '{"b": "\ufffd"}'
