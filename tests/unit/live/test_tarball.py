from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from loopdev.live.tarball import collect, delete_lines, shell_exec, tar_exec


def test_tar_payload_keeps_modes_links_and_splits_deletes(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run.sh").write_text("echo\n")
    os.chmod(tmp_path / "app" / "run.sh", 0o750)
    (tmp_path / "app" / "link").symlink_to("/etc/passwd")  # sent as a link, never followed
    payload = collect(
        [
            (str(tmp_path / "app"), "/srv/app"),
            (str(tmp_path / "gone.txt"), "/srv/gone.txt"),
        ],
        ["/srv/old"],
        str(tmp_path),
    )
    assert payload.deletes == ["/srv/old", "/srv/gone.txt"]
    argv, stdin = tar_exec(payload)
    count, tar_len = int(argv[-2]), int(argv[-1])
    names = b"/srv/old\n/srv/gone.txt\n"
    assert count == 2 and stdin[: len(names)] == names
    assert len(stdin) == len(names) + tar_len
    deletes_len = len(names)
    with tarfile.open(fileobj=io.BytesIO(stdin[deletes_len:])) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["srv/app/run.sh"].mode == 0o750
    assert members["srv/app/link"].issym() and members["srv/app/link"].linkname == "/etc/passwd"
    assert members["srv/app"].isdir()


def test_directory_symlink_leaving_the_context_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "escape").symlink_to(outside)
    payload = collect([(str(ctx / "escape" / "secret"), "/app/secret")], [], str(ctx))
    assert payload.refused == [str(ctx / "escape" / "secret")] and not payload.members


def test_shell_fallback_is_plain_posix_and_ends_with_exit(tmp_path: Path) -> None:
    (tmp_path / "a b'c").write_bytes(b"%s\\\x00'\n")
    payload = collect([(str(tmp_path / "a b'c"), "/app/a b'c")], ["/app/x"], str(tmp_path))
    argv, script = shell_exec(payload)
    text = script.decode()
    assert argv == ["sh", "-s"] and text.endswith("exit 0\n")
    assert "printf '\\045s\\134\\000\\047\\012'" in text
    assert "'/app/a b'\\''c'" in text


def test_deleted_paths_travel_one_a_line_and_odd_ones_escaped() -> None:
    lines = delete_lines(["/a b", "/-rf", "/new\nline", "/back\\slash", "rel", "/tab\t "])
    assert lines == (
        b"/a b\n/-rf\ne/new\\nline\n/back\\slash\nerel\n/tab\t \n"
    )  # a plain line is read as is (read -r); only the e-lines go through printf %b
