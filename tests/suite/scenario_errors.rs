//! Broken scenario files get a located error that says what is allowed; never a panic.

use wschaos::scenario::{self, ScenarioError};

const GOOD: &str = r#"name = "ok"
duration = "30s"

[[clients]]
name = "subs"
count = 3
topics = ["news"]

[[timeline]]
at = "5s"
do = "restart"
down = "2s"
"#;

/// Parses `GOOD` with one edit and returns the error text.
fn error(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    match scenario::parse(&GOOD.replacen(from, to, 1), "s.toml") {
        Ok(_) => panic!("{from:?} -> {to:?} was accepted"),
        Err(ScenarioError::Invalid(located)) => located.to_string(),
        Err(other) => panic!("{other}"),
    }
}

pub fn the_good_file_is_good() {
    scenario::parse(GOOD, "s.toml").unwrap();
}

pub fn unknown_keys_wrong_types_and_bad_durations_are_located() {
    let cases = [
        (
            ("duration", "durration"),
            "s.toml:2:1: unknown field `durration`",
            Some("did you mean `duration`?"),
        ),
        (
            ("count = 3", "count = \"three\""),
            "s.toml:6:9: invalid type: string \"three\"",
            None,
        ),
        (
            ("\"30s\"", "\"30 parsecs\""),
            "s.toml:2:12: bad duration \"30 parsecs\"",
            None,
        ),
        (
            ("down = \"2s\"", "dwn = \"2s\""),
            "s.toml:12:1: unknown field `dwn`",
            Some("did you mean `down`?"),
        ),
        (
            ("do = \"restart\"", "do = \"restrat\""),
            "s.toml:11:7: unknown variant `restrat`",
            Some("did you mean `restart`?"),
        ),
        (
            ("do = \"restart\"", "do = \"reboot\""),
            "s.toml:11:7: unknown variant `reboot`, expected one of `restart`, `graceful_restart`, `crash`",
            None,
        ),
        (
            // A bad value inside a timeline step: at its key, not at the step's header.
            ("down = \"2s\"", "down = \"fast\""),
            "s.toml:12:8: bad duration \"fast\": a number and a unit are expected",
            None,
        ),
        (
            ("at = \"5s\"", "at = 5"),
            "s.toml:10:1: `at` must be a duration string",
            None,
        ),
    ];
    for ((from, to), start, help) in cases {
        let e = error(from, to);
        assert!(e.starts_with(start), "{from} -> {to}:\n{e}");
        if let Some(help) = help {
            assert!(e.contains(help), "{from} -> {to}:\n{e}");
        }
    }
}

pub fn meaning_errors_are_located_with_what_is_allowed() {
    let restart_then_client =
        GOOD.to_string() + "\n[[timeline]]\nat = \"20s\"\ndo = \"close\"\nclient = \"sbus\"\n";
    let e = scenario::parse(&restart_then_client, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("s.toml:14:1: no client or group named \"sbus\""),
        "{e}"
    );
    assert!(e.contains("did you mean `subs`?"), "{e}");

    let e = error("at = \"5s\"", "at = \"50s\"");
    assert!(
        e.starts_with("s.toml:9:1: `at = \"50s\"` is after the end of the run (30s)"),
        "{e}"
    );

    let e = error("down = \"2s\"", "down = \"40s\"");
    assert!(
        e.contains("lasts until 45s, after the end of the run"),
        "{e}"
    );

    let partition = GOOD.replace(
        "do = \"restart\"\ndown = \"2s\"",
        "do = \"partition\"\nbetween = [\"clients\", \"sever\"]",
    );
    let e = scenario::parse(&partition, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no host named \"sever\"") && e.contains("did you mean `server`?"),
        "{e}"
    );

    let double_crash = GOOD.replace("do = \"restart\"\ndown = \"2s\"", "do = \"crash\"")
        + "\n[[timeline]]\nat = \"6s\"\ndo = \"crash\"\n";
    let e = scenario::parse(&double_crash, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`crash` at 6s: the server is down then"), "{e}");

    let windows = GOOD.replace(
        "do = \"restart\"\ndown = \"2s\"",
        "do = \"flap\"\nfor = \"10s\"",
    ) + "\n[[timeline]]\nat = \"8s\"\ndo = \"reject\"\nfor = \"5s\"\n";
    let e = scenario::parse(&windows, "s.toml").unwrap_err().to_string();
    assert!(e.contains("overlaps another admission window"), "{e}");

    let e = error("count = 3", "count = 0");
    assert!(e.contains("group \"subs\" has count = 0"), "{e}");

    let e = scenario::parse(
        &(GOOD.to_string() + "\n[expect]\nfinal = { subs = \"conected\" }\n"),
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("\"conected\" is not a status") && e.contains("did you mean `connected`?"),
        "{e}"
    );

    let e = scenario::parse(
        &(GOOD.to_string() + "\n[expect]\nskip = [\"presense\"]\n"),
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no invariant named \"presense\"") && e.contains("did you mean `presence`?"),
        "{e}"
    );
}

pub fn garbage_never_panics() {
    for text in [
        "",
        "\u{0}\u{1}",
        "[[[",
        "name = ",
        "clients = 5",
        "timeline = [1, 2]",
        &"[".repeat(10_000),
    ] {
        assert!(scenario::parse(text, "g.toml").is_err(), "{text:?}");
    }
}

pub fn a_missing_file_says_so() {
    let e = scenario::load("scenarios/nope.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("scenarios/nope.toml: cannot read"), "{e}");
}

pub fn steps_fired_by_a_status_change_are_checked() {
    let both = error("at = \"5s\"", "at = \"5s\"\non = \"connected\"");
    assert!(both.contains("`at` or `on`, not both"), "{both}");
    let fault = error("at = \"5s\"", "on = \"connected\"");
    assert!(fault.contains("`on` fires client actions only"), "{fault}");
    let status = error(
        "at = \"5s\"\ndo = \"restart\"\ndown = \"2s\"",
        "on = \"online\"\ndo = \"close\"\nclient = \"subs\"",
    );
    assert!(status.contains("unknown variant `online`"), "{status}");
    let zero = error(
        "at = \"5s\"\ndo = \"restart\"\ndown = \"2s\"",
        "on = \"connected\"\nnth = 0\ndo = \"close\"\nclient = \"subs\"",
    );
    assert!(zero.contains("`nth` counts from 1"), "{zero}");
    let fine = GOOD.replacen(
        "at = \"5s\"\ndo = \"restart\"\ndown = \"2s\"",
        "on = \"disconnected\"\nnth = 2\ndo = \"close\"\nclient = \"subs-1\"",
        1,
    );
    scenario::parse(&fine, "s.toml").unwrap();
}

pub fn a_server_command_and_its_keys_are_checked() {
    let server = |keys: &str| error("[[clients]]", &format!("[server]\n{keys}\n\n[[clients]]"));
    for (keys, says) in [
        ("command = \" \"", "the server's `command` is empty"),
        (
            "ready_line = \"up\"",
            "`ready_line` in [server] is for a server `command`",
        ),
        (
            "cwd = \"srv\"",
            "`cwd` in [server] is for a server `command`",
        ),
        (
            "command = \"srv {port}\"\nready_within = \"0s\"",
            "`ready_within` must be more than 0 and at most 10m",
        ),
        (
            "command = \"srv {port}\"\nstop_grace = \"1h\"",
            "`stop_grace` must be more than 0 and at most 10m",
        ),
        (
            "command = \"srv {port}\"\nready_line = \"\"",
            "`ready_line` is empty",
        ),
        (
            "command = \"srv\"\nready = \"port\"",
            "unknown field `ready`",
        ),
    ] {
        let e = server(keys);
        assert!(e.contains(says), "{keys}: {e}");
    }
    // A good one runs on the real network, its built-in clients as processes.
    let s = scenario::parse(
        &GOOD.replacen(
            "[[clients]]",
            "[server]\ncommand = \"srv {port}\"\n\n[[clients]]",
            1,
        ),
        "s.toml",
    )
    .unwrap();
    assert_eq!(
        wschaos::world::World::of(&s),
        wschaos::world::World::RealNetwork
    );
    assert_eq!(s.server.ready_within, std::time::Duration::from_secs(10));
}

pub fn a_host_holds_a_bounded_number_of_clients() {
    let crowded = error("count = 3", "count = 2001");
    assert!(
        crowded.contains("2001 clients on host \"clients\"; the limit is 2000 per host")
            && crowded.contains("16,384 ephemeral ports"),
        "{crowded}"
    );
    let spread = GOOD.replacen(
        "count = 3",
        "count = 2000\n\n[[clients]]\nname = \"more\"\nhost = \"elsewhere\"\ncount = 2000",
        1,
    );
    scenario::parse(&spread, "s.toml").expect("4,000 clients on two hosts are fine");
}
