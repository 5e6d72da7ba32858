"""The payload of one sync: deletions plus a tar of the changed files, and the shell that
unpacks it in the container.

The exec's argv stays tiny whatever the batch: stdin carries the deleted paths, one a line,
then T bytes of tar, and argv carries only the number of paths and T (v4 exec cannot close
stdin, so the container must know where the data ends). Nothing is written anywhere but the
synced paths (no temp file: the container may have no /tmp or a read-only root): the
shell's ``read`` builtin takes stdin one byte at a time, so it stops exactly at the end of
the list and ``head -c T`` hands the rest to tar. A path containing a newline (or not
starting with ``/``) travels as ``e`` + its ``printf %b`` escape. Containers without ``tar``
get a plain POSIX-shell script instead.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

NO_TAR_EXIT = 86  # the unpacker's "no tar here" exit status: retry with the shell fallback
RM_CHUNK = 100  # paths per rm (the shell's argument list grows per path)

UNPACK_SCRIPT = f"""\
n=$1; t=$2
command -v tar >/dev/null 2>&1 || exit {NO_TAR_EXIT}
set --
i=0
while [ "$i" -lt "$n" ]; do
  IFS= read -r p || exit 68
  case $p in /*) ;; *) p=$(printf '%b.' "${{p#?}}") && p=${{p%.}} ;; esac
  set -- "$@" "$p"
  i=$((i + 1))
  if [ $# -ge {RM_CHUNK} ]; then rm -rf -- "$@" || exit 66; set --; fi
done
[ $# -eq 0 ] || rm -rf -- "$@" || exit 66
[ "$t" -eq 0 ] || head -c "$t" | tar -x -f - -C / || exit 67
"""


@dataclass(frozen=True)
class Member:
    dest: str  # absolute container path
    kind: str  # "f" file, "d" directory, "l" symlink
    mode: int
    data: bytes = b""
    link: str = ""


@dataclass
class Payload:
    members: list[Member] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)  # container paths (incl. vanished files)
    refused: list[str] = field(default_factory=list)  # local paths behind an escaping symlink

    @property
    def files(self) -> int:
        return sum(1 for m in self.members if m.kind != "d") + len(self.deletes)


def collect(
    copies: Sequence[tuple[str, str]],
    deletes: Sequence[str],
    context: str,
    keep: Callable[[str], bool] = lambda _p: True,
) -> Payload:
    """Read the files to send (blocking I/O: run in a thread).

    A file gone since its event is deleted instead; a path reached through a directory
    symlink that leaves the context is refused; symlinks themselves are sent as links.
    """
    out = Payload(deletes=list(deletes))
    real_ctx = os.path.realpath(context)
    seen: set[str] = set()  # a new directory and its files may both be in the batch
    for local, dest in sorted(copies, key=lambda c: c[1]):
        if dest in seen:
            continue
        if not _inside(os.path.realpath(os.path.dirname(local)), real_ctx):
            out.refused.append(local)
            continue
        for member in _members(local, dest, keep):
            if member is None:
                out.deletes.append(dest)
            elif member.dest not in seen:
                seen.add(member.dest)
                out.members.append(member)
    return out


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _members(local: str, dest: str, keep: Callable[[str], bool]) -> Iterator[Member | None]:
    try:
        st = os.lstat(local)
        if stat.S_ISLNK(st.st_mode):
            yield Member(dest, "l", 0o777, link=os.readlink(local))
        elif stat.S_ISDIR(st.st_mode):
            yield Member(dest, "d", stat.S_IMODE(st.st_mode))
            for name in sorted(os.listdir(local)):
                child = os.path.join(local, name)
                if keep(child):
                    yield from _members(child, f"{dest.rstrip('/')}/{name}", keep)
        elif stat.S_ISREG(st.st_mode):
            with open(local, "rb") as fh:
                yield Member(dest, "f", stat.S_IMODE(st.st_mode), fh.read())
    except FileNotFoundError:
        yield None


def tar_bytes(members: Sequence[Member]) -> bytes:
    """A GNU tar of the members at their container paths; mtime is now so reloaders notice."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.dest.lstrip("/"))
            info.mode, info.mtime, info.uid, info.gid = m.mode, now, 0, 0
            if m.kind == "d":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif m.kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, m.link
                tar.addfile(info)
            else:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def delete_lines(paths: Sequence[str]) -> bytes:
    """The deleted paths as the unpacker reads them: one a line, escaped when they must be."""
    out = []
    for path in paths:
        raw = path.encode("utf-8", "surrogateescape")
        if raw.startswith(b"/") and b"\n" not in raw:
            out.append(raw + b"\n")
        else:
            out.append(b"e" + raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n") + b"\n")
    return b"".join(out)


def tar_exec(payload: Payload) -> tuple[list[str], bytes]:
    """The command and stdin for the tar unpacker."""
    names = delete_lines(payload.deletes)
    archive = tar_bytes(payload.members) if payload.members else b""
    argv = ["sh", "-c", UNPACK_SCRIPT, "loopdev-sync", str(len(payload.deletes)), str(len(archive))]
    return argv, names + archive


_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._,:/=+-")
PRINTF_CHUNK = 2048


def quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _printf_format(data: bytes) -> str:
    """Bytes as a printf format: safe characters as is, the rest as 3-digit octal escapes."""
    return "".join(chr(b) if b in _SAFE else f"\\{b:03o}" for b in data)


def shell_exec(payload: Payload) -> tuple[list[str], bytes]:
    """The command and stdin for containers without tar: a POSIX shell script on stdin.

    ``sh -s`` reads commands line by line from stdin, so the script ends with ``exit`` (v4
    exec never delivers EOF). File contents go through the ``printf`` builtin's octal escapes.
    """
    lines = ["set -e"]
    for i in range(0, len(payload.deletes), RM_CHUNK):
        lines.append("rm -rf -- " + " ".join(quote(p) for p in payload.deletes[i : i + RM_CHUNK]))
    for m in payload.members:
        dest = quote(m.dest)
        parent = quote(os.path.dirname(m.dest) or "/")
        if m.kind == "d":
            lines.append(f"mkdir -p {dest} && chmod {m.mode:o} {dest}")
        elif m.kind == "l":
            lines.append(f"mkdir -p {parent} && ln -sfn {quote(m.link)} {dest}")
        else:
            tmp = quote(m.dest + ".loopdev-new")
            lines.append(f"mkdir -p {parent} && : > {tmp}")
            for i in range(0, len(m.data), PRINTF_CHUNK):
                lines.append(f"printf '{_printf_format(m.data[i : i + PRINTF_CHUNK])}' >> {tmp}")
            lines.append(f"chmod {m.mode:o} {tmp} && mv -f {tmp} {dest}")
    lines.append("exit 0")
    return ["sh", "-s"], ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
