"""report.html as a reader sees it: opened in headless Chromium, its figures decode, its tables render, and the page
logs no console error. Skips (saying why) where no Chromium is installed; `make test` installs Debian's `chromium`
with apt-get where it is missing and apt-get is usable."""

from __future__ import annotations

import pytest
from chromium import find_chromium, open_page

from sentinel.report import Effect, Finding, Report

BROWSER = find_chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium found (looked for $SENTINEL_CHROMIUM, chromium, chromium-browser, "
    "google-chrome): install it with `apt-get install chromium` (Debian) to run the report browser tests")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A small synthetic report with one real plot, saved and opened in the browser."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = tmp_path_factory.mktemp("report")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3, 4], [0.2, 0.5, 0.4, 0.1], label="gold")
    ax.legend()
    fig.savefig(out / "curve.png", dpi=60)
    plt.close(fig)
    report = Report(
        kind="demo", title="browser check", seed=1, model={"policy": "runs/sft", "reward_model": "runs/rm"},
        findings=[Finding("reward-model/verbosity", "high", "Prefers padded replies", score=0.8,
                          effect=Effect("mean reward shift", 0.86, 0.7, 1.0),
                          evidence=[{"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "4 <river>",
                                     "shift": 0.9}]),
                  Finding("ppo/proxy-vs-gold", "info", "Proxy up, gold down")],
        metrics={"PPO/gold_accuracy": 0.25}, key_metrics=["PPO/gold_accuracy"], figures=["curve.png"],
        summary=["PPO ran 4 steps."], next_steps=["Stop at step 2."])
    report.save(out)
    (out / "curve.png").unlink()  # report.html must not need the file beside it
    return open_page(out / "report.html", BROWSER)


def test_report_html_renders_in_chromium_without_errors(rendered):
    assert rendered["errors"] == []
    assert rendered["title"] == "browser check"
    assert len(rendered["images"]) == 1 and all(img["ok"] for img in rendered["images"]), rendered["images"]
    assert rendered["images"][0]["width"] == 240 and rendered["images"][0]["height"] == 180  # 4 x 3 in at 60 dpi
    tables = {t["cls"]: t for t in rendered["tables"]}
    assert {"key-figures", "identity", "facts", "evidence", "metrics"} <= set(tables)
    assert all(t["visible"] and t["cells"] > 0 for t in rendered["tables"])
    assert tables["evidence"]["rows"] == 2 and tables["evidence"]["cells"] == 8
    assert tables["identity"]["rows"] == 2
    text = rendered["text"]
    assert "PPO ran 4 steps." in text and "Stop at step 2." in text and "4 <river>" in text


def test_the_browser_check_sees_broken_images_and_console_errors(tmp_path):
    """The harness itself: a missing image and a console error must be reported, or the test above proves nothing."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><title>t</title><table><tr><td>a</td></tr></table><img src='missing.png'>"
                    "<script>console.error('boom')</script>")
    seen = open_page(page, BROWSER)
    assert seen["images"][0]["ok"] is False
    assert any("boom" in e for e in seen["errors"]) and any("missing.png" in e for e in seen["errors"])
