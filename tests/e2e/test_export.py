"""`tdmcrawl export`: a real crawl's kept pages, read back by datatrove and Hugging Face datasets.

The crawl runs against loopback servers; the export is read with the real
readers a training pipeline uses (datatrove's JsonlReader/ParquetReader,
`datasets.load_dataset`) with no options beyond the file, and compared with
the audit, the WARC records and the pages as served.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.cli import main
from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, text_reply
from tdmcrawl.crawler.export import export_corpus
from tdmcrawl.crawler.filter import filter_warc_files
from tdmcrawl.crawler.manifest import read_manifest
from tdmcrawl.crawler.warc.digests import file_sha256
from tdmcrawl.dedup import extract_main_text
from tests.support.filter import Cap, robots, write_warc
from tests.support.web import FAST, KAZAKH, RUSSIAN, page, tdmcrawl

PLAIN = "Жай мәтін: ә ғ қ ң ө ұ ү һ і.\nПростой текст.\n"


def _web() -> LoopbackWeb:
    site = Site(
        "home",
        {
            "/robots.txt": text_reply("User-agent: *\nDisallow: /private/\n"),
            "/": page(
                "Басты бет",
                KAZAKH,
                ["/ru.html", "/doc.txt", "/noai.html", "/private/x.html", "/a.html"],
                lang="kk",
            ),
            "/ru.html": page("Русский", RUSSIAN, headers=[("Content-Language", "ru-RU")]),
            "/doc.txt": Reply(200, [("Content-Type", "text/plain; charset=utf-8")], PLAIN.encode()),
            "/noai.html": page("noai", RUSSIAN, headers=[("X-Robots-Tag", "noai")]),
            "/private/x.html": page("Private", "never requested"),
            "/a.html": page("A", "An English page that may be used for training."),
        },
    )
    return LoopbackWeb([site])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    with _web() as web:
        done = tdmcrawl(
            "crawl", web.url("home", "/"), "--out", str(tmp / "crawl"), "--progress", "0", *FAST
        )
        assert done.returncode == 0, done.stderr
        served = {
            path: (route.body if isinstance(route, Reply) else None)
            for path, route in web.sites["home"].routes.items()
        }
        origin = web.origin("home")
    db = sqlite3.connect(tmp / "crawl" / "audit.sqlite")
    kept = {url: record_id for url, record_id in db.execute("select url, record_id from kept")}
    db.close()
    assert len(kept) == 4  # the index, ru.html, doc.txt, a.html
    return {"tmp": tmp, "dir": tmp / "crawl", "served": served, "origin": origin, "kept": kept}


def _datatrove(folder: Path, reader: str) -> list:
    from datatrove.pipeline.readers import JsonlReader, ParquetReader

    cls = {"jsonl": JsonlReader, "parquet": ParquetReader}[reader]
    return list(cls(str(folder)).run())


def _datasets(path: Path, builder: str, cache: Path):
    import datasets

    return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=str(cache))


@pytest.mark.parametrize("name", ["pages.jsonl", "pages.jsonl.gz", "pages.jsonl.zst"])
def test_json_lines_load_in_datatrove_and_datasets(corpus, tmp_path, name):
    out = tmp_path / "out" / name
    result = export_corpus(corpus["dir"], out, fmt="jsonl")
    assert result.rows == 4
    docs = _datatrove(out.parent, "jsonl")
    assert {d.id: d.metadata["url"] for d in docs} == {v: k for k, v in corpus["kept"].items()}
    table = _datasets(out, "json", tmp_path / "hf")
    assert table.num_rows == 4
    assert set(table.column_names) == {"text", "id", "metadata"}
    assert {row["metadata"]["url"] for row in table} == set(corpus["kept"])


def test_parquet_loads_in_datatrove_and_datasets_with_row_groups(corpus, tmp_path):
    out = tmp_path / "out" / "pages.parquet"
    export_corpus(corpus["dir"], out, fmt="parquet", row_group_size=3)
    assert pq.ParquetFile(out).num_row_groups == 2
    docs = _datatrove(out.parent, "parquet")
    assert sorted(d.id for d in docs) == sorted(corpus["kept"].values())
    table = _datasets(out, "parquet", tmp_path / "hf")
    assert table.num_rows == 4
    assert table.features["metadata"]["warc_offset"].dtype == "int64"
    assert table.features["metadata"]["decision"]["allowed"].dtype == "bool"


def test_text_is_the_main_text_the_near_duplicate_gate_reads(corpus, tmp_path):
    out = tmp_path / "pages.jsonl"
    export_corpus(corpus["dir"], out)
    rows = {r["metadata"]["url"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    origin, served = corpus["origin"], corpus["served"]
    for path in ("/", "/ru.html", "/a.html"):
        assert rows[origin + path]["text"] == extract_main_text(served[path], origin + path)
    assert "ә ғ қ ң ө ұ ү һ і" in rows[origin + "/"]["text"]
    assert rows[origin + "/doc.txt"]["text"] == PLAIN
    assert origin + "/noai.html" not in rows and origin + "/private/x.html" not in rows


def test_metadata_points_at_the_warc_record_and_the_decision(corpus, tmp_path):
    out = tmp_path / "pages.jsonl"
    export_corpus(corpus["dir"], out)
    origin = corpus["origin"]
    db = sqlite3.connect(corpus["dir"] / "audit.sqlite")
    (crawl_id,) = db.execute("select crawl_id from crawls").fetchone()
    db.close()
    for row in map(json.loads, out.read_text("utf-8").splitlines()):
        meta = row["metadata"]
        with open(corpus["dir"] / "warc" / meta["warc_file"], "rb") as handle:
            handle.seek(meta["warc_offset"])
            record = next(iter(ArchiveIterator(handle)))
        headers = record.rec_headers
        assert headers.get_header("WARC-Record-ID") == row["id"] == corpus["kept"][meta["url"]]
        assert headers.get_header("WARC-Payload-Digest") == meta["payload_digest"]
        assert headers.get_header("WARC-Date") == meta["fetch_time"]
        assert meta["crawl_id"] == crawl_id and meta["lineage"] == []
        decision = meta["decision"]
        assert decision["allowed"] is True
        assert json.loads(decision["detail"])["url"] == meta["url"]
        assert decision["policy_version"].startswith("tdmcrawl-0.")
    languages = {
        m["url"]: (m["language"], m["content_type"])
        for m in (json.loads(line)["metadata"] for line in out.read_text("utf-8").splitlines())
    }
    assert languages[origin + "/"] == ("kk", "text/html")
    assert languages[origin + "/ru.html"] == ("ru-ru", "text/html")  # Content-Language
    assert languages[origin + "/doc.txt"] == (None, "text/plain")


def test_urls_only_lists_the_kept_urls(corpus, tmp_path):
    out = tmp_path / "urls.jsonl"
    result = export_corpus(corpus["dir"], out, urls_only=True)
    urls = [json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()]
    assert sorted(urls) == sorted(corpus["kept"]) and result.rows == 4
    parquet = tmp_path / "urls.parquet"
    export_corpus(corpus["dir"], parquet, urls_only=True)
    assert sorted(pq.read_table(parquet).column("url").to_pylist()) == sorted(corpus["kept"])


def test_the_export_of_a_recheck_output_carries_its_lineage(tmp_path):
    # A crawl, a recheck of it and a recheck of that, while the web still answers: each
    # recheck's manifest names its parent (crawler/manifest.py), and the export follows
    # the chain back to the crawl.
    v1, v2, v3 = tmp_path / "v1", tmp_path / "v2", tmp_path / "v3"
    with _web() as web:
        done = tdmcrawl("crawl", web.url("home", "/"), "--out", str(v1), "--progress", "0", *FAST)
        assert done.returncode == 0, done.stderr
        for parent, child in ((v1, v2), (v2, v3)):
            done = tdmcrawl("recheck", str(parent), "--out", str(child), "--json", *FAST)
            assert done.returncode == 0, done.stderr
    out = tmp_path / "pages.parquet"
    result = export_corpus(v3, out)
    assert result.rows == 4  # nothing changed on the web: every page still kept

    def named(directory: Path, kind: str) -> dict:
        header = read_manifest(directory).header
        assert header["kind"] == kind
        return {
            "directory": str(directory.resolve()),
            "crawl_id": header["crawl_id"],
            "kind": kind,
            "manifest_sha256": file_sha256(directory / "manifest.json")[1],
        }

    expected = [named(v2, "recheck"), named(v1, "crawl")]  # nearest first
    lineages = [m["lineage"] for m in pq.read_table(out).column("metadata").to_pylist()]
    assert lineages == [expected] * 4
    # JSON lines carry the same; the crawl itself has none.
    export_corpus(v2, tmp_path / "v2.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "v2.jsonl").read_text("utf-8").splitlines()]
    assert {json.dumps(r["metadata"]["lineage"]) for r in rows} == {json.dumps([expected[1]])}
    export_corpus(v1, tmp_path / "v1.jsonl")
    first = json.loads((tmp_path / "v1.jsonl").read_text("utf-8").splitlines()[0])
    assert first["metadata"]["lineage"] == []


def test_kept_records_without_text_are_counted_not_exported(tmp_path):
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            robots("https://kz.example", "User-agent: *\nAllow: /\n"),
            Cap("https://kz.example/a.html", page("Бет", KAZAKH).body),
            Cap("https://kz.example/logo.png", b"\x89PNG....", [("Content-Type", "image/png")]),
            Cap("https://kz.example/old", b"", [("Location", "/a.html")], status="301 Moved"),
        ],
    )
    filter_warc_files([source], tmp_path / "filtered")
    result = export_corpus(tmp_path / "filtered", tmp_path / "pages.jsonl")
    assert result.rows == 1
    assert dict(result.skipped) == {"not a text type": 1, "not a 2xx response": 1}


def test_bad_corpora_and_paths_are_one_line_errors(corpus, tmp_path):
    runner = CliRunner()
    out = tmp_path / "pages.jsonl"
    done = runner.invoke(main, ["export", str(corpus["dir"]), "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["rows"] == 4
    again = runner.invoke(main, ["export", str(corpus["dir"]), "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    broken = tmp_path / "broken"
    shutil.copytree(corpus["dir"], broken)
    for warc in (broken / "warc").glob("*.warc.gz"):
        warc.unlink()
    done = runner.invoke(main, ["export", str(broken), "--out", str(tmp_path / "b.jsonl")])
    assert done.exit_code == 1
    assert done.output.strip().splitlines()[-1].startswith("Error: ")
    assert "lacks" in done.output
    assert not (tmp_path / "b.jsonl").exists() and not (tmp_path / "b.jsonl.tmp").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    done = runner.invoke(main, ["export", str(empty), "--out", str(tmp_path / "e.jsonl")])
    assert done.exit_code == 1 and "no audit database" in done.output
