"""Portal benchmark on the demo warehouse: time to first chart of each role's home page, cold (a
new browser, nothing cached, the server's first answer for it) and warm (the page loaded again),
the server time of a pivot change in the explorer (cold: the first such query; warm: the same
again), and the JavaScript shipped (gzip, as served).

    .venv/bin/python bench/portal.py [--jobs 60000] [--months 6] [--dir /tmp/tally-bench-portal] [--runs 3]

The server is `tally serve --demo` as `make run` starts it (a real process on loopback, the demo
loaded on first start into --dir, kept for later runs); the browser is Debian's headless chromium
driven by Playwright. Goals (issue 14): first chart under 1 s warm, a pivot change under 300 ms
server time, under 400 kB of gzipped JS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tally.serving.portal_build import PORTAL, build

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
FIRST_CHART = "() => performance.getEntriesByName('tally:first-chart').length > 0"
# A pivot change: site by month, then resource added to the rows (what the explorer sends).
PIVOT_BEFORE = "kind=jobs&range=last-6-months&rows=site&cols=month&metrics=normalised_core_hours&chart=bar"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, jobs: int, months: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = home.parent / "serve.log"
    env = {**os.environ, "TALLY_HOME": str(home)}
    tally = str(Path(sys.executable).parent / "tally")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [tally, "serve", "--demo", "--demo-jobs", str(jobs), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 1800  # the first start loads the demo
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"tally serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("tally serve did not start")


def js_gzip_bytes(dist: Path) -> tuple[int, int]:
    """(gzip bytes, raw bytes) of the JavaScript the portal ships."""
    scripts = list((dist / "assets").glob("*.js"))
    gz = sum((p.with_name(p.name + ".gz")).stat().st_size for p in scripts)
    return gz, sum(p.stat().st_size for p in scripts)


def first_chart_ms(page: Any) -> float:
    page.wait_for_function(FIRST_CHART, timeout=60_000)
    return float(page.evaluate("performance.getEntriesByName('tally:first-chart')[0].startTime"))


def server_ms(page: Any, marker: str) -> float:
    """Request sent to first byte of the last reports request whose URL holds `marker` (loopback)."""
    return float(
        page.evaluate(
            """(marker) => {
                const hits = performance.getEntriesByType('resource').filter(e => e.name.includes(marker));
                const e = hits[hits.length - 1];
                return e.responseStart - e.requestStart;
            }""",
            marker,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=60_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/tally-bench-portal"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    result = build(PORTAL)
    if result.outcome not in ("built", "fresh"):
        raise SystemExit(f"portal: {result.message}")
    gz, raw = js_gzip_bytes(result.dist)
    print(f"JS shipped: {gz / 1000:.1f} kB gzip ({raw / 1000:.1f} kB raw)   goal < 400 kB gzip")

    home = args.dir / "home"
    home.parent.mkdir(parents=True, exist_ok=True)
    process, url = start_server(home, args.jobs, args.months)
    people = json.loads((home / "demo-people.json").read_text())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            print(f"\n{'home page':<16} {'cold ms':>8} {'warm ms':>8}   (first chart, from navigation start)")
            for person in people:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                signed = page.request.post(
                    f"{url}/v1/auth/login", data={"email": person["email"], "password": person["password"]}
                )
                assert signed.ok, signed.text()
                page.goto(f"{url}/")
                cold = first_chart_ms(page)
                warm = []
                for _ in range(args.runs):
                    page.reload()
                    warm.append(first_chart_ms(page))
                print(f"{person['role']:<16} {cold:>8.0f} {statistics.median(warm):>8.0f}")
                context.close()

            admin = next(p for p in people if p["role"] == "admin")
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.request.post(
                f"{url}/v1/auth/login", data={"email": admin["email"], "password": admin["password"]}
            )
            page.goto(f"{url}/explore?{PIVOT_BEFORE}")
            page.wait_for_selector(".results table")
            timings: list[tuple[float, float]] = []
            for _ in range(args.runs + 1):
                started = time.perf_counter()
                page.locator("#x-rows-resource").check()
                page.wait_for_function(
                    "() => document.querySelector('.results').getAttribute('aria-busy') === 'false'"
                )
                page.wait_for_selector(".results table")
                shown = (time.perf_counter() - started) * 1000
                timings.append((server_ms(page, "group_by=site%2Cresource%2Cmonth"), shown))
                page.locator("#x-rows-resource").uncheck()
                page.wait_for_function(
                    "() => document.querySelector('.results').getAttribute('aria-busy') === 'false'"
                )
            cold_server, cold_shown = timings[0]
            warm_server = statistics.median(t[0] for t in timings[1:])
            warm_shown = statistics.median(t[1] for t in timings[1:])
            print(f"\n{'pivot change':<16} {'server ms':>9} {'on screen ms':>12}  (+ resource in rows)")
            print(f"{'cold':<16} {cold_server:>9.0f} {cold_shown:>12.0f}")
            print(f"{'warm':<16} {warm_server:>9.0f} {warm_shown:>12.0f}   goal < 300 ms server")
            context.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
