from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from loopdev.live.tarball import collect, shell_exec, tar_exec


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
    deletes_len, tar_len = int(argv[-2]), int(argv[-1])
    assert stdin[:deletes_len] == b"/srv/old\0/srv/gone.txt\0"
    assert len(stdin) == deletes_len + tar_len
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
