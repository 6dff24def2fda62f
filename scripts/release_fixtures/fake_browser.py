#!/usr/bin/env python3
"""The user's browser, for a release's ``spec-kitty auth login`` against the
loopback fake (``fake_hosted.py``): set ``BROWSER="python3 fake_browser.py %s"``
and the release's own ``webbrowser.open(url)`` runs it with the sign-in URL.

It answers at once (the release waits for its browser to return before it
serves its callback) and leaves a detached child that opens the URL: the fake
redirects it to the release's loopback callback with a code, which is the
user signing in. Standard library only.
"""
from __future__ import annotations

import subprocess
import sys
import urllib.request


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--open":
        with urllib.request.urlopen(sys.argv[2], timeout=30) as answer:  # noqa: S310 - loopback only
            answer.read()
        return
    subprocess.Popen(  # noqa: S603 - this script, again
        [sys.executable, __file__, "--open", sys.argv[1]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


if __name__ == "__main__":
    main()
