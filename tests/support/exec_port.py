"""An in-memory exec port for the live-update reconciler: records what each container is sent."""

from __future__ import annotations

from typing import Any

from loopdev.adapters.kube_exec import ExecResult


class RecordingExecPort:
    """Every exec succeeds (printing ``out``) unless its ``sh -c`` script is in ``failing``."""

    def __init__(self, pods: list[dict[str, Any]] | None = None) -> None:
        self.pods = pods if pods is not None else []
        self.calls: list[tuple[str, list[str], bytes]] = []
        self.failing: set[str] = set()

    def current_pods(self, namespace: str) -> list[dict[str, Any]]:
        """The pods a listing returns (a subclass may read them from a fake cluster)."""
        return self.pods

    async def list_pods(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        return self.current_pods(namespace), "1"

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        stdin: bytes = b"",
        timeout: float = 300.0,
    ) -> ExecResult:
        self.calls.append((pod, command, stdin))
        failed = command[:2] == ["sh", "-c"] and command[2] in self.failing
        return ExecResult(1 if failed else 0, b"out\n")

    async def close(self) -> None:
        pass

    def sent_to(self, prefix: str, needle: bytes) -> list[str]:
        """The pods named ``prefix...`` whose exec input contained ``needle``."""
        return [
            pod for pod, _cmd, stdin in self.calls if pod.startswith(prefix) and needle in stdin
        ]
