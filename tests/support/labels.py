"""Labels every test-made container/image carries, so teardown and leak checks find them."""

from __future__ import annotations

import os
import secrets

TEST_LABEL = "loopdev-test"
SESSION_LABEL = "loopdev-test.session"
# One id per pytest process; concurrent runs on one Docker engine do not see each other's leaks.
SESSION_ID = os.environ.setdefault("LOOPDEV_TEST_SESSION", secrets.token_hex(4))


def test_labels() -> dict[str, str]:
    """``{"loopdev-test": "1", "loopdev-test.session": <this run>}`` for containers/images."""
    return {TEST_LABEL: "1", SESSION_LABEL: SESSION_ID}
