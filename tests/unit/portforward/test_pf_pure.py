from __future__ import annotations

import pytest
from pf_fake_server import pod

from loopdev.portforward import frames
from loopdev.portforward.holder import listening_inodes
from loopdev.portforward.pods import PortNotFound, choose_pod, is_ready, resolve_port, selector


def test_selector_uses_project_and_resource_labels() -> None:
    assert selector("shop", "api") == "loopdev.dev/project=shop,loopdev.dev/resource=api"


def test_ready_excludes_terminating_and_unready_pods() -> None:
    assert is_ready(pod("a"))
    assert not is_ready(pod("a", ready=False))
    assert not is_ready(pod("a", deleting=True))
    pending = pod("a")
    pending["status"]["phase"] = "Pending"
    assert not is_ready(pending)


def test_choose_keeps_current_while_ready_else_newest_ready() -> None:
    old = pod("old", created="2024-01-01T00:00:00Z")
    new = pod("new", created="2024-01-02T00:00:00Z")
    assert choose_pod([old, new], current="old")["metadata"]["name"] == "old"  # type: ignore[index]
    assert choose_pod([old, new], current=None)["metadata"]["name"] == "new"  # type: ignore[index]
    going = pod("old", deleting=True)
    assert choose_pod([going, new], current="old")["metadata"]["name"] == "new"  # type: ignore[index]
    assert choose_pod([going, pod("x", ready=False)], current="old") is None


def test_resolve_named_and_numeric_ports() -> None:
    p = pod("a", ports=(("http", 8000), ("metrics", 9090)))
    assert resolve_port(p, 80) == 80
    assert resolve_port(p, "9000") == 9000
    assert resolve_port(p, "metrics") == 9090
    with pytest.raises(PortNotFound, match="no container port named 'grpc'; named ports: http, m"):
        resolve_port(p, "grpc")


def test_frames_preamble_then_data_and_errors() -> None:
    ch = frames.ChannelState(8000)
    assert not ch.ready
    assert ch.feed(b"\x00\x40\x1f") is None  # 8000 little-endian
    assert ch.feed(b"\x01\x40\x1f") is None
    assert ch.ready
    assert ch.feed(b"\x00hello") == frames.Frame(0, b"hello")
    assert ch.feed(b"\x01boom") == frames.Frame(1, b"boom")
    assert frames.encode_data(b"hi") == b"\x00hi"


def test_frames_reject_wrong_port_and_channel() -> None:
    with pytest.raises(frames.FrameError, match="announced port 80, expected 8000"):
        frames.ChannelState(8000).feed(b"\x00\x50\x00")
    with pytest.raises(frames.FrameError, match="channel 3"):
        frames.decode(b"\x03x")
    with pytest.raises(frames.FrameError, match="3 bytes"):
        frames.ChannelState(1).feed(b"\x00abc")


TCP_TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1
"""


def test_listening_inodes_only_counts_listeners_on_the_port() -> None:
    assert listening_inodes(TCP_TABLE, 8080) == {"4242"}
    assert listening_inodes(TCP_TABLE, 80) == {"4444"}
    assert listening_inodes(TCP_TABLE, 81) == set()
