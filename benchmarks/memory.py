"""App memory (DESIGN §7: at most 1.5 GB resident): ``streamlit run app.py`` visited page by page
in Debian's Chromium, the server's resident memory read after each page.

Run from the repository root::

    python -m benchmarks.memory [--chromium /usr/bin/chromium] [--settle 8]

Prints one JSON object: resident MB of the Streamlit process after each page, and the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PAGES = ("/", "/Latent_Controller", "/Latent_Space", "/Style_Match", "/Listening_Test", "/Results")


def resident_mb(pid: int) -> float:
    """Resident memory (MB) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        line = next(entry for entry in status if entry.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds to let each page load")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DAFX_EXPLORER_DB": os.path.join(tempfile.mkdtemp(), "listening.sqlite")}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        memory = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium,
                                                 args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            for path in PAGES:
                page.goto(url + path)
                page.wait_for_timeout(1000 * args.settle)
                memory[path] = round(resident_mb(server.pid), 1)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(json.dumps({"resident_mb_after_page": memory, "max_resident_mb": max(memory.values()),
                      "budget_mb": 1536}, indent=2))


if __name__ == "__main__":
    main()
