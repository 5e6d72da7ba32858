"""What a resource's status says about the last live update (pure formatting)."""

from __future__ import annotations

from collections.abc import Sequence

from loopdev.live.executor import Outcome


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def synced_message(files: int, ms: float, outcomes: Sequence[Outcome]) -> str:
    """``synced 3 files in 84 ms`` plus the run steps: ``, ran 'pip install' (exit 0)``."""
    text = f"synced {plural(files, 'file')} in {ms:.0f} ms"
    if not outcomes:
        return text + " (no running container yet: kept for new pods)"
    if len(outcomes) > 1:
        text += f" into {plural(len(outcomes), 'container')}"
    seen: list[str] = []
    for run in outcomes[0].steps:
        part = f"ran '{run.cmd}' (exit {run.exit_code})"
        if part not in seen:
            seen.append(part)
    return ", ".join([text, *seen])


def replayed_message(files: int, pods: Sequence[str]) -> str:
    return f"replayed {plural(files, 'synced file')} into new pod {', '.join(sorted(set(pods)))}"


def failure_reason(outcomes: Sequence[Outcome]) -> str:
    """The first failure, as the reason a rebuild was requested."""
    failed = [o for o in outcomes if not o.ok]
    return failed[0].error if failed else ""
