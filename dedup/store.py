"""Where the verification data (each work's sorted shingle hashes) lives.

The candidate table in RAM stays at a few hundred bytes per work; a work's
record (word count, sorted shingle hashes and their first positions: 12 bytes
per distinct shingle, about 8 KiB for a 5 KB text) is only read for the few
candidates a query returns. ``MemoryShingleStore``
keeps them in RAM (small indexes, tests); ``FileShingleStore`` appends them to
one file and reads a candidate's array with a single ``pread``.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import numpy as np

Record = tuple[np.ndarray, np.ndarray | None, int]  # shingles, positions, words


def _encode(shingles: np.ndarray, positions: np.ndarray | None, words: int) -> bytes:
    if positions is None:  # unknown positions: coverage falls back to containment
        positions = np.full(shingles.size, 0xFFFFFFFF, dtype=np.uint32)
    return b"".join(
        (
            np.uint32(words).astype("<u4").tobytes(),
            shingles.astype("<u8", copy=False).tobytes(),
            positions.astype("<u4", copy=False).tobytes(),
        )
    )


def _decode(raw: bytes) -> Record:
    n = (len(raw) - 4) // 12
    words = int(np.frombuffer(raw, dtype="<u4", count=1)[0])
    shingles = np.frombuffer(raw, dtype="<u8", count=n, offset=4).astype(np.uint64, copy=False)
    positions = np.frombuffer(raw, dtype="<u4", count=n, offset=4 + 8 * n)
    if n and positions[0] == 0xFFFFFFFF:
        return shingles, None, words
    return shingles, positions.astype(np.uint32, copy=False), words


class MemoryShingleStore:
    def __init__(self) -> None:
        self._records: list[Record] = []

    def __len__(self) -> int:
        return len(self._records)

    def append(self, shingles: np.ndarray, positions: np.ndarray | None, words: int) -> None:
        self._records.append((shingles, positions, words))

    def get(self, work_id: int) -> Record:
        return self._records[work_id]

    def write_to(self, path: Path) -> np.ndarray:
        """Write every record to ``path``; return the byte offsets, n + 1 of them."""
        offsets = np.zeros(len(self._records) + 1, dtype=np.uint64)
        with open(path, "wb") as fh:
            for i, record in enumerate(self._records):
                raw = _encode(*record)
                fh.write(raw)
                offsets[i + 1] = offsets[i] + np.uint64(len(raw))
        return offsets

    def close(self) -> None:
        self._records = []


class FileShingleStore:
    """Append-only file of records, indexed by byte offsets held in RAM (8 bytes per work)."""

    def __init__(self, path: Path, offsets: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self._offsets = array("Q", [0] if offsets is None else offsets.tolist())
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self.read_only = False
        except PermissionError:
            # a shared, read-only index: queries work, appends raise
            self._fd = os.open(self.path, os.O_RDONLY)
            self.read_only = True
        size = os.fstat(self._fd).st_size
        if size < self._offsets[-1]:
            os.close(self._fd)
            expected = self._offsets[-1]
            raise ValueError(f"{self.path} holds {size} bytes, the index expects {expected}")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def append(self, shingles: np.ndarray, positions: np.ndarray | None, words: int) -> None:
        if self.read_only:
            raise PermissionError(f"{self.path} is read-only: copy the index to add works")
        end = self._offsets[-1]
        raw = _encode(shingles, positions, words)
        os.pwrite(self._fd, raw, end)
        self._offsets.append(end + len(raw))

    def get(self, work_id: int) -> Record:
        start, end = self._offsets[work_id], self._offsets[work_id + 1]
        return _decode(os.pread(self._fd, end - start, start))

    def offsets(self) -> np.ndarray:
        return np.frombuffer(self._offsets, dtype=np.uint64).copy()

    def write_to(self, path: Path) -> np.ndarray:
        if Path(path).resolve() == self.path.resolve():
            os.fsync(self._fd)
            return self.offsets()
        end = self._offsets[-1]
        with open(path, "wb") as out:
            pos = 0
            while pos < end:
                chunk = os.pread(self._fd, min(1 << 24, end - pos), pos)
                out.write(chunk)
                pos += len(chunk)
        return self.offsets()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
