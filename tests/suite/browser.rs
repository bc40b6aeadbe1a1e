//! The HTML timeline in a real browser (Debian's headless Chromium): the page's script runs,
//! there is a lane per client, the fault bands sit where the history says, and each
//! violation marker points at the right event. A screenshot goes to
//! `target/browser/timeline.png`.
//!
//! Without Chromium the test says so and passes, so that `cargo test` works with nothing but
//! the Rust toolchain; CI installs Chromium and sets `WSCHAOS_REQUIRE_BROWSER=1`, which turns
//! a missing browser into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use wschaos::cases::Case;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
    ];
    candidates
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn headless(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `attribute` on the element whose opening tag contains `anchor`.
fn attribute<'a>(dom: &'a str, anchor: &str, attribute: &str) -> Option<&'a str> {
    let at = dom.find(anchor)?;
    let tag_start = dom[..=at].rfind('<')?;
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>')?];
    let key = format!("{attribute}=\"");
    let from = tag.find(&key)? + key.len();
    Some(&tag[from..from + tag[from..].find('"')?])
}

pub fn the_timeline_shows_lanes_faults_and_violations_in_a_real_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("WSCHAOS_REQUIRE_BROWSER").is_none(),
            "WSCHAOS_REQUIRE_BROWSER is set but Chromium is missing"
        );
        eprintln!("SKIPPED: no Chromium (apt-get install chromium); CI runs this test");
        return;
    };
    // A real restart story with violations: an expectation the run cannot meet.
    let mut scenario =
        wschaos::scenario::load("scenarios/restarts/short-restart.toml".as_ref()).unwrap();
    scenario
        .expect
        .final_status
        .insert("subs".into(), "failed".into());
    let case = Case {
        file: "short-restart.toml".into(),
        scenario,
        seed: 2,
    };
    let outcome = case.run().unwrap();
    assert_eq!(outcome.verdict.violations.len(), 10, "one per subscriber");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&out);
    let folder = wschaos::report::write(&out, &case, &outcome).unwrap();
    let page = std::fs::canonicalize(folder.join("timeline.html")).unwrap();
    let profile = out.join("profile");

    let dom = headless(&browser, &profile, &["--dump-dom"], &page);
    assert_eq!(
        attribute(&dom, "<body", "data-ready"),
        Some("yes"),
        "the page's script ran; the DOM starts: {}",
        &dom[..dom.len().min(300)]
    );
    assert_eq!(
        attribute(&dom, "<body", "data-lanes"),
        Some("11"),
        "a lane per client"
    );
    for client in ["subs-0", "subs-9", "pub-0"] {
        assert!(
            dom.contains(&format!("data-client=\"{client}\"")),
            "{client}'s lane"
        );
    }
    assert!(dom.contains("class=\"msg\""), "message ticks");
    assert!(dom.contains("class=\"presence\""), "presence ticks");
    // The restart: crash at 10 s, start 2 s later, exactly as recorded.
    let window = &outcome.history.fault_windows()[0];
    assert_eq!(attribute(&dom, "data-verb=", "data-verb"), Some("crash"));
    assert_eq!(
        attribute(&dom, "data-verb=", "data-from"),
        Some(window.from.to_string().as_str())
    );
    assert_eq!(
        attribute(&dom, "data-verb=", "data-to"),
        Some(window.to.unwrap().to_string().as_str())
    );
    for (k, v) in outcome.verdict.violations.iter().enumerate() {
        let marker = format!("id=\"marker-{k}\"");
        assert_eq!(
            attribute(&dom, &marker, "data-invariant"),
            Some(v.invariant)
        );
        assert_eq!(
            attribute(&dom, &marker, "data-event"),
            Some(v.events[0].to_string().as_str()),
            "marker {k} points at its event"
        );
        assert!(
            dom.contains(&format!("id=\"violation-{k}\"")),
            "violation {k} is listed and linked"
        );
    }

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser/timeline.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &profile,
        &[
            "--window-size=1400,900",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot of {size} bytes at {}",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}
