"""Pod volumes on Docker: ``emptyDir`` as labelled volumes, configMap/secret as host dirs.

Reading the store happens on the loop (``files_for``); the disk and Docker work runs in the
kubelet's thread pool (``materialize``).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

import docker

from .dockerrt import PodRef
from .store import Store


def files_for(store: Store, namespace: str, vol: dict[str, Any]) -> dict[str, bytes]:
    """The files a configMap/secret volume shows (a snapshot taken at pod start)."""
    if "configMap" not in vol and "secret" not in vol:
        return {}
    is_cm = "configMap" in vol
    src = vol["configMap"] if is_cm else vol["secret"]
    res = store.kind_of(("", "configmaps" if is_cm else "secrets"))
    obj = store.find(res, namespace, src.get("name" if is_cm else "secretName", ""))
    data = (obj or {}).get("data") or {}
    return {k: (v.encode() if is_cm else base64.b64decode(v)) for k, v in data.items()}


class PodVolumes:
    def __init__(self, ref: PodRef) -> None:
        self.ref = ref
        self.mounts: dict[str, str] = {}
        self.host_dir: Path | None = None

    def materialize(
        self, client: docker.DockerClient, vol: dict[str, Any], files: dict[str, bytes]
    ) -> None:
        """Blocking: create the Docker volume or write the host directory for one volume."""
        name = vol["name"]
        if "emptyDir" in vol:
            vname = f"fk-{self.ref.uid[:12]}-{name}"
            client.volumes.create(vname, labels=self.ref.labels(name))
            self.mounts[name] = vname
            return
        if self.host_dir is None:
            self.host_dir = Path(tempfile.mkdtemp(prefix=f"fakekube-{self.ref.uid[:8]}-"))
        path = self.host_dir / name
        path.mkdir(parents=True, exist_ok=True)
        for key, payload in files.items():
            (path / key).write_bytes(payload)
        self.mounts[name] = str(path)

    def binds(self, cspec: dict[str, Any]) -> list[str]:
        """Docker ``volumes`` entries for a container's volumeMounts."""
        out = []
        for m in cspec.get("volumeMounts") or []:
            src = self.mounts.get(m["name"])
            if src is None:
                continue
            if m.get("subPath") and src.startswith("/"):
                src = f"{src}/{m['subPath']}"
            out.append(f"{src}:{m['mountPath']}:{'ro' if m.get('readOnly') else 'rw'}")
        return out

    def cleanup(self) -> None:
        if self.host_dir is not None:
            shutil.rmtree(self.host_dir, ignore_errors=True)
