"""Opens a `stripelake report` file in headless Chromium (Debian's package, driven by Selenium)
with the network switched off, and checks what a person would see:

* no console errors, and no request at all besides the file itself (none can fail);
* every chart (`svg[data-chart]`) is laid out and has drawn marks;
* at 390 px nothing but the tables' own scroll boxes is wider than the screen;
* full-page screenshots at 1280 and 390 px wide are written to OUT_DIR.

Prints one JSON object (the findings, the load time, the screenshot paths) and exits 1 listing
every problem, 0 when there is none.

Usage: browser_check.py REPORT_HTML OUT_DIR CHROMEDRIVER
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHARTS = """
return Array.from(document.querySelectorAll('svg[data-chart]')).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('[data-mark]')).filter(m => {
    const b = m.getBoundingClientRect();
    return b.width > 0 && b.height > 0;
  });
  return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length};
});
"""

# Elements wider than the viewport that are not inside a horizontal scroll box.
OVERFLOW = """
const width = document.documentElement.clientWidth;
const wide = [];
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('.scroll')) continue;
  const b = el.getBoundingClientRect();
  if (b.right > width + 1) wide.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : ''));
}
return {width: width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10)};
"""

TIMING = """
const n = performance.getEntriesByType('navigation')[0];
return {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd,
        resources: performance.getEntriesByType('resource').map(r => r.name)};
"""


def driver(chromedriver):
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.binary_location = os.environ.get("STRIPELAKE_CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def requests(d, page_url):
    """Every request the page made (from the DevTools log), and those that failed."""
    made, failed = [], []
    for entry in d.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page_url:
                made.append(url)
        elif message["method"] == "Network.loadingFailed":
            failed.append(params.get("errorText", "?"))
    return made, failed


def screenshot(d, width, path):
    """The whole page at `width` CSS pixels."""
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600})
    height = d.execute_script("return document.documentElement.scrollHeight")
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    d.save_screenshot(path)
    return height


def main():
    report, out_dir, chromedriver = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    page_url = "file://" + os.path.abspath(report)
    problems, findings = [], {}
    d = driver(chromedriver)
    try:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.emulateNetworkConditions",
                          {"offline": True, "latency": 0, "downloadThroughput": 0,
                           "uploadThroughput": 0})
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
        started = time.monotonic()
        d.get(page_url)
        findings["open_seconds"] = round(time.monotonic() - started, 3)
        findings["timing"] = d.execute_script(TIMING)
        findings["charts"] = d.execute_script(CHARTS)
        if not findings["charts"]:
            problems.append("the page has no charts")
        for c in findings["charts"]:
            if c["marks"] == 0 or c["width"] < 100 or c["height"] < 40:
                problems.append(f"chart {c['chart']} is not drawn: {c}")
        findings["tiles"] = d.execute_script(
            "return document.querySelectorAll('[data-tile]').length")
        findings["screenshots"] = {}
        for width in (1280, 390):
            path = os.path.join(out_dir, f"report-{width}.png")
            height = screenshot(d, width, path)
            findings["screenshots"][width] = {"path": path, "height": height}
            if width == 390:
                overflow = d.execute_script(OVERFLOW)
                findings["overflow_390"] = overflow
                if overflow["scrollWidth"] > overflow["width"] + 1:
                    problems.append(f"at 390 px the page scrolls sideways: {overflow}")
        made, failed = requests(d, page_url)
        findings["requests"], findings["failed_requests"] = made, failed
        if made:
            problems.append(f"the page requested {made}")
        if failed:
            problems.append(f"requests failed: {failed}")
        console = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        findings["console"] = console
        if console:
            problems.append(f"console messages: {console}")
    finally:
        d.quit()
    findings["problems"] = problems
    print(json.dumps(findings))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
