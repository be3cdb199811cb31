"""Reading bulk files line by line: JSONL and CSV, the file's own line numbers, and unreadable lines named."""

from __future__ import annotations

from shared.bulk.source import BulkSource, guess_format


def read(data: bytes, fmt: str = "auto"):
    return [(r.line_no, r.value, r.error and str(r.error)) for r in BulkSource.from_bytes(data, fmt).lines()]


def test_jsonl_keeps_file_line_numbers_and_skips_blank_lines():
    data = b'\xef\xbb\xbf{"operation": "lyrics"}\n\n   \n{"operation": "music"}\r\n[1, 2]\n{"broken": \n'
    rows = read(data)
    assert [r[0] for r in rows] == [1, 4, 5, 6]
    assert rows[0][1] == {"operation": "lyrics"} and rows[1][1] == {"operation": "music"}
    assert rows[2][2] == "line 5: must be a JSON object"
    assert rows[3][2].startswith("line 6: not valid JSON")


def test_csv_maps_columns_to_line_fields_params_and_json_params():
    data = (b"operation,key,title,tags,prompt,mv,continue_at:json,make_instrumental:json,params\n"
            b'music,k1,Harbour,synthwave,"[Verse]\nNeon",chirp-v4,30,true,"{""negative_tags"": ""metal""}"\n'
            b"\n"
            b"lyrics,,,,a cat,,,,\n")
    rows = read(data)
    assert [r[0] for r in rows] == [2, 5]  # the quoted newline makes line 2 span two lines
    first = rows[0][1]
    assert first["operation"] == "music" and first["key"] == "k1"
    assert first["params"] == {"title": "Harbour", "tags": "synthwave", "prompt": "[Verse]\nNeon", "mv": "chirp-v4",
                               "continue_at": 30, "make_instrumental": True, "negative_tags": "metal"}
    assert rows[1][1] == {"operation": "lyrics", "params": {"prompt": "a cat"}}


def test_csv_problems_are_reported_by_line():
    rows = read(b"operation,continue_at:json\nmusic,{oops\nmusic,1,extra\n", "csv")
    assert rows[0][0] == 2 and "continue_at" in rows[0][2] and "not valid JSON" in rows[0][2]
    assert rows[1][0] == 3 and "more cells than header columns" in rows[1][2]
    assert "needs an 'operation'" in read(b"title,tags\nx,y\n", "csv")[0][2]


def test_format_is_guessed_from_suffix_then_content():
    assert guess_format(".csv", b"{") == "csv"
    assert guess_format(".jsonl", b"o") == "jsonl"
    assert guess_format("", b"{") == "jsonl"
    assert guess_format("", b"o") == "csv"


def test_a_file_is_streamed_not_loaded(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"operation": "lyrics", "params": {"prompt": "x"}}\n' * 50_000)
    lines = BulkSource.from_path(path).lines()
    assert next(lines).line_no == 1  # the first line comes before the rest is read
    assert sum(1 for _ in lines) == 49_999
