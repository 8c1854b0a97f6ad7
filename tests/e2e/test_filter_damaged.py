"""`tdmcrawl filter` on bad input: damaged records are one warning each and skipped,
a file that is not a WARC is one `Error:` line and exit 1, nothing finished is lost."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tests.support.filter import (
    Cap,
    output_files,
    page,
    payloads_of,
    records_of,
    robots,
    warcio_check,
    write_warc,
)

A = "https://kz.example"


def invoke(*args: str):
    return CliRunner().invoke(main, ["filter", *args])


def kept_pages(out: Path) -> set[str]:
    return {uri for kind, uri in records_of(output_files(out)) if kind == "response"}


def test_truncated_last_member_is_one_warning_and_the_rest_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "cut.warc.gz"
    write_warc(
        source,
        [
            robots(A, "User-agent: *\nAllow: /\n"),
            Cap(f"{A}/бірінші", page("1", "Бірінші бет")),
            Cap(f"{A}/second", page("2", "Второй")),
        ],
        metadata=False,
    )
    data = source.read_bytes()
    source.write_bytes(data[:-40])  # into the last response's gzip member
    result = invoke(str(source), "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line]
    assert len(warnings) == 1 and warnings[0].startswith("Warning: ")
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["bad_records"] == 1
    assert kept_pages(tmp_path / "o") == {f"{A}/robots.txt", f"{A}/бірінші"}
    # The cut page's request record goes with it.
    assert not [r for r in records_of(output_files(tmp_path / "o")) if r[1] == f"{A}/second"]
    assert warcio_check(output_files(tmp_path / "o")).returncode == 0


def test_broken_http_head_drops_that_record_only(tmp_path: Path) -> None:
    source = tmp_path / "broken.warc.gz"
    write_warc(
        source,
        [
            Cap(f"{A}/broken", raw_block=b"NOT A STATUS LINE\r\nX: y\r\n\r\n<html>body</html>"),
            Cap(f"{A}/good", page("Жақсы", "Жақсы бет")),
        ],
    )
    result = invoke(str(source), "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: ") == 1 and f"{A}/broken" in result.stderr
    assert json.loads(result.stdout)["bad_records"] == 1
    records = records_of(output_files(tmp_path / "o"))
    assert ("response", f"{A}/good") in records
    # Its request and metadata records go with it.
    assert not [r for r in records if r[1] == f"{A}/broken"]


def test_non_warc_input_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.warc.gz", tmp_path / "notes.txt"
    write_warc(good, [Cap(f"{A}/", page("Бет", "Мәтін"))])
    bad.write_text("Бұл WARC емес.\n", encoding="utf-8")
    result = invoke(str(good), str(bad), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "not a WARC file" in lines[0]
    assert len(lines[0]) < 300 and "\\x" not in lines[0]
    assert not list((tmp_path / "o").rglob("*.open"))


def test_empty_input_is_not_a_warc(tmp_path: Path) -> None:
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    result = invoke(str(tmp_path / "empty.warc.gz"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "Error: " in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("--out", str(tmp_path / "o")).exit_code == 2
    assert invoke(str(tmp_path / "missing.warc.gz"), "--out", str(tmp_path)).exit_code == 2
    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/", page("Бет", "Мәтін"))])
    result = invoke(str(source), "--out", str(tmp_path / "o"), "--product-token", "bad token!")
    assert result.exit_code == 2 and "product token" in result.output


def test_plain_warc_input_is_compressed_per_record_with_identical_payloads(
    tmp_path: Path,
) -> None:
    source = tmp_path / "plain.warc"
    write_warc(
        source,
        [
            Cap(f"{A}/", page("Бет", "Қазақша мәтін ә ғ қ ң ө ұ ү һ і")),
            Cap(
                f"{A}/x",
                page("X", "Другой"),
                [("Content-Type", "text/html"), ("X-Robots-Tag", "noai")],
            ),
        ],
        gzip=False,
    )
    out = tmp_path / "o"
    result = invoke(str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert kept_pages(out) == {f"{A}/"}
    assert warcio_check(output_files(out)).returncode == 0
    before, after = payloads_of([source]), payloads_of(output_files(out))
    assert after[("response", f"{A}/")] == before[("response", f"{A}/")]
    assert "excluded: noai" in result.stdout


def test_revisit_of_a_reserved_url_is_dropped(tmp_path: Path) -> None:
    from warcio.warcwriter import WARCWriter

    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            Cap(
                f"{A}/r",
                page("R", "Мәтін"),
                [("Content-Type", "text/html"), ("TDM-Reservation", "1")],
            ),
            Cap(f"{A}/k", page("K", "Мәтін")),
        ],
    )
    with open(source, "ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url in (f"{A}/r", f"{A}/k"):
            writer.write_record(
                writer.create_revisit_record(
                    url,
                    digest="sha1:AAAA",
                    refers_to_uri=url,
                    refers_to_date="2026-01-01T00:00:00Z",
                )
            )
    out = tmp_path / "o"
    assert invoke(str(source), "--out", str(out)).exit_code == 0
    revisits = {uri for kind, uri in records_of(output_files(out)) if kind == "revisit"}
    assert revisits == {f"{A}/k"}


def test_single_gzip_stream_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    import gzip

    plain = tmp_path / "plain.warc"
    write_warc(
        plain, [Cap(f"{A}/", page("Бет", "Мәтін")), Cap(f"{A}/2", page("2", "Мәтін"))], gzip=False
    )
    stream = tmp_path / "stream.warc.gz"
    stream.write_bytes(gzip.compress(plain.read_bytes()))
    result = invoke(str(stream), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "warcio recompress" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_garbage_between_members_skips_the_rest_with_one_warning(tmp_path: Path) -> None:
    first, second = tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"
    write_warc(first, [Cap(f"{A}/1", page("1", "Бір"))])
    write_warc(second, [Cap(f"{A}/2", page("2", "Екі"))])
    joined = tmp_path / "joined.warc.gz"
    joined.write_bytes(first.read_bytes() + b"\x00garbage\xff" * 20 + second.read_bytes())
    result = invoke(str(joined), "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: ") == 1
    assert kept_pages(tmp_path / "o") == {f"{A}/1"}
    assert warcio_check(output_files(tmp_path / "o")).returncode == 0


def test_revisit_of_a_reserved_page_goes_but_its_original_of_another_url_stays(
    tmp_path: Path,
) -> None:
    from warcio.warcwriter import WARCWriter

    source = tmp_path / "in.warc.gz"
    ids = write_warc(
        source,
        [
            Cap(f"{A}/original", page("O", "Мәтін")),
            Cap(
                f"{A}/gone",
                page("G", "Мәтін"),
                [("Content-Type", "text/html"), ("X-Robots-Tag", "noai")],
            ),
        ],
    )
    with open(source, "ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        # Same payload seen at a reserved URL (X-Robots-Tag in the revisit's head is
        # not needed: the URL is reserved by its own capture above).
        revisit = writer.create_revisit_record(
            f"{A}/gone",
            digest="sha1:CCCC",
            refers_to_uri=f"{A}/original",
            refers_to_date="2026-01-01T00:00:00Z",
        )
        revisit.rec_headers.add_header("WARC-Refers-To", ids[f"{A}/original"])
        writer.write_record(revisit)
        # And a revisit of the dropped page's record, at a kept URL: it cannot be replayed.
        orphan = writer.create_revisit_record(
            f"{A}/mirror",
            digest="sha1:DDDD",
            refers_to_uri=f"{A}/gone",
            refers_to_date="2026-01-01T00:00:00Z",
        )
        orphan.rec_headers.add_header("WARC-Refers-To", ids[f"{A}/gone"])
        writer.write_record(orphan)
    out = tmp_path / "o"
    assert invoke(str(source), "--out", str(out)).exit_code == 0
    records = records_of(output_files(out))
    assert ("response", f"{A}/original") in records
    assert not [r for r in records if r[0] == "revisit"]


def _file_size_limit() -> None:
    # A full disk, for the child only: writes past 200 kB fail with EFBIG, not a signal.
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_output_that_cannot_be_written_is_one_error_and_a_readable_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.filter import long_text

    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/бет/{n}", page("Бет", long_text(n))) for n in range(200)])
    out = tmp_path / "o"
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tdmcrawl.crawler.cli",
            "filter",
            str(source),
            "--out",
            str(out),
            "--no-near-duplicates",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_file_size_limit,
    )
    assert child.returncode == 1, child.stderr
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write to "), child.stderr
    assert "File too large" in lines[0]
    # The half-written record was cut and the file finalised: what it holds is readable.
    assert not list(out.rglob("*.open"))
    files = output_files(out)
    assert len(files) == 1 and warcio_check(files).returncode == 0
    assert 0 < len(kept_pages(out)) < 200
