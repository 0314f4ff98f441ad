"""Make sure the browser tests have a Chromium to drive; `make test` runs this before pytest.

Debian's /usr/bin/chromium is used when present (no download); otherwise Playwright's own Chromium is
installed. If neither is possible the command fails loudly: the browser tests must never be skipped silently.

    python -m tests.browser_setup
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_launch_kwargs() -> dict[str, Any]:
    """Keyword arguments for Playwright's `chromium.launch()` on this machine."""
    if DEBIAN_CHROMIUM.exists():
        return {"executable_path": str(DEBIAN_CHROMIUM), "args": list(CHROMIUM_FLAGS)}
    return {"args": list(CHROMIUM_FLAGS)}


def main() -> int:
    if DEBIAN_CHROMIUM.exists():
        print(f"browser tests: using Debian's Chromium at {DEBIAN_CHROMIUM}")
        return 0
    print(f"browser tests: {DEBIAN_CHROMIUM} not found, installing Playwright's Chromium…", flush=True)
    command = [sys.executable, "-m", "playwright", "install", "chromium"]
    try:
        result = subprocess.run(command, check=False)
    except OSError as error:
        print(f"browser tests: could not run {' '.join(command)}: {error}", file=sys.stderr)
        return 1
    if result.returncode != 0:
        print(
            f"browser tests: `{' '.join(command)}` failed (exit {result.returncode}). The browser tests need a "
            "Chromium: install Debian's (`apt-get install chromium`) or fix the Playwright download, then run "
            "`make test` again.",
            file=sys.stderr,
        )
        return result.returncode or 1
    print("browser tests: using Playwright's Chromium")
    return 0


if __name__ == "__main__":
    sys.exit(main())
