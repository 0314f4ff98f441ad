"""Page weight and server time of the public pages, in-process (no network), on the engine DATABASE_URL selects.

Prints per-page figures, then one last line of key=value pairs.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="clf-bench-"))
os.environ["EMBEDDED_WORKER"] = "0"

PAGES = ["/", "/faq", "/signup", "/login"]
ROUNDS = 200


async def main() -> None:
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app
    from app.cli import migrate
    from app.platform.templating import STATIC_DIR

    await migrate()
    timings: list[float] = []
    html_gz: dict[str, int] = {}
    async with AsyncTestClient(app=create_app()) as client:
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code == 200, path
            html_gz[path] = len(gzip.compress(response.content, 9))
            for _ in range(ROUNDS):
                start = time.perf_counter()
                await client.get(path)
                timings.append((time.perf_counter() - start) * 1000)
    js_gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in STATIC_DIR.rglob("*.js") if "sse" not in p.name)
    css_gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in STATIC_DIR.rglob("*.css"))
    for path, size in html_gz.items():
        print(f"{path:10} html_gz={size} B")
    quantiles = statistics.quantiles(timings, n=100)
    engine = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    print(f"engine={engine} requests={len(timings)} p50_ms={quantiles[49]:.2f} p95_ms={quantiles[94]:.2f} "
          f"landing_html_gz_bytes={html_gz['/']} max_html_gz_bytes={max(html_gz.values())} "
          f"js_gz_bytes={js_gz} css_gz_bytes={css_gz}")


if __name__ == "__main__":
    asyncio.run(main())
