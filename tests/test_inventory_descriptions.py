"""Archive descriptions decode to the paths upload tools recorded in them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_glacier_select.archive_descriptions import archive_path
from airflow_glacier_select.testing.inventory_fixtures import NON_ASCII_PATHS, fastglacier_description


@pytest.mark.parametrize(
    ("description", "path"),
    [
        # raw: the description is the path
        ("photos/2019/IMG_0001.jpg", "photos/2019/IMG_0001.jpg"),
        ("  C:\\Users\\me\\file.txt ", "C:\\Users\\me\\file.txt"),
        ("{draft}", "{draft}"),
        ("[1, 2]", "[1, 2]"),
        ("mt2 is not base64!", "mt2 is not base64!"),
        # FastGlacier v4, as its documentation shows it, on one line and spread over lines
        ("<m><v>4</v><p>Z2xhY2llci1kZy5wZGY=</p><lm>20120821T170824Z</lm></m>", "glacier-dg.pdf"),
        (
            "<m>\n  <v>4</v>\n  <p>Z2xhY2llci1kZy5wZGY=</p>\n  <lm>20120821T170824Z</lm>\n"
            "  <ce>1:1:4340ebcf79712dc5e3ef7d50bab98ba5:54687</ce>\n</m>",
            "glacier-dg.pdf",
        ),
        # non-ASCII names only travel base64-encoded
        (
            "<m><v>3</v><p>w5xuw69jw7Zkw6kv0YTQsNC50LsudHh0</p><lm>20190121T085242Z</lm></m>",
            "Ünïcödé/файл.txt",
        ),
        ("<m><v>4</v><p> w5xuw69jw7Zkw6kv0YTQsNC50LsudHh0 </p></m>", "Ünïcödé/файл.txt"),
        # FastGlacier v1
        ("<ArchiveMetadata><Path>Z2xhY2llci1kZy5wZGY=</Path></ArchiveMetadata>", "glacier-dg.pdf"),
        # JSON with Path or path
        ('{"Path":"backup/\\"q\\" name.tar","UTCDateModified":"20130313T040002Z"}', 'backup/"q" name.tar'),
        ('{"path": "lower/case.txt", "size": 3}', "lower/case.txt"),
        # CloudBerry stores the path UTF-7 encoded
        ('{"Path":"dir2/+BEQEMAQ5BDs-3","UTCDateModified":"20130322T120043Z"}', "dir2/файл3"),  # noqa: RUF001
        # without CloudBerry's marker a '+' is just a '+'
        ('{"Path":"a+b/c++-notes"}', "a+b/c++-notes"),
        # mt-aws-glacier
        ("mt2 eyJmaWxlbmFtZSI6ICJkaXIvw7wudHh0IiwgIm10aW1lIjogIjIwMTMxMjE5VDA4MzMwMVoifQ", "dir/ü.txt"),
        ("mt1 eyJmaWxlbmFtZSI6ICJkaXIvw4PCvC50eHQiLCAibXRpbWUiOiAiMjAxMzEyMTlUMDgzMzAxWiJ9", "dir/ü.txt"),
    ],
)
def test_paths_are_recovered(description: str, path: str) -> None:
    assert archive_path(description) == path


@pytest.mark.parametrize(
    "description",
    [
        "",
        "   ",
        "<m><v>4</v><p>!!!not base64!!!</p><lm>20190121T085242Z</lm></m>",
        "<m><v>4</v><p>//4=</p></m>",  # base64 of bytes that are not UTF-8
        "<m><v>4</v><p></p></m>",
        '{"Path": 7}',
        '{"UTCDateModified":"20130322T120043Z"}',
        "mt2 bm90IGpzb24",  # base64url of "not json"
    ],
)
def test_descriptions_without_a_usable_path_give_none(description: str) -> None:
    assert archive_path(description) is None


def test_every_non_ascii_path_survives_fastglacier_encoding() -> None:
    modified = datetime(2020, 2, 29, 23, 59, 59, tzinfo=timezone.utc)
    for path in NON_ASCII_PATHS:
        description = fastglacier_description(path, modified)
        assert description.isascii()
        assert archive_path(description) == path
