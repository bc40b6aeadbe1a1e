//! `wschaos run --real`: an ordinary scenario, its built-in clients run as real processes.
//!
//! Each client of a group without a `command` becomes `wschaos connect`, the reference
//! client as a process, with the group's whole policy (`WSCHAOS_POLICY`, JSON), its topics,
//! its mode and its publish workload (`--publish TOPIC:NAME#{count}` with the same interval,
//! start and stop, so the messages are named as the simulation names them). It stays up
//! after giving up (`--stay`), as the simulated client does, so `reconnect` still reaches
//! it. The same file can then be judged in both worlds and the verdicts compared.

use crate::scenario::{Mode, Scenario};

/// `s` with every built-in group turned into `wschaos connect` processes. `Err` when a
/// group's policy cannot be written as JSON for its processes.
///
/// ```
/// let s = wschaos::scenario::parse(
///     "name = \"t\"\nduration = \"10s\"\n[[clients]]\nname = \"subs\"\ntopics = [\"news\"]\n",
///     "t.toml",
/// )
/// .unwrap();
/// let real = wschaos::real::on_real_network(&s).unwrap();
/// let command = real.clients[0].command.as_deref().unwrap();
/// assert!(command.starts_with("\"$WSCHAOS\" connect {url} --client-id {name} --stay"));
/// assert!(command.contains("--subscribe 'news'"));
/// assert!(real.clients[0].env.contains_key("WSCHAOS_POLICY"));
/// assert_eq!(wschaos::world::World::of(&real), wschaos::world::World::RealNetwork);
/// ```
pub fn on_real_network(s: &Scenario) -> Result<Scenario, String> {
    let mut real = s.clone();
    // A real run expects every client back within `settle` of each heal unless the file
    // says otherwise. A built-in client that followed its policy may be waiting up to its
    // `max_delay` for its next dial (real dials refused during an outage fail at once, so
    // the backoff climbs faster than in the simulation, where they hang): allow that too.
    if real.expect.reconnect_within.is_none() {
        let slowest = (real.clients.iter())
            .filter(|g| g.command.is_none())
            .map(|g| g.policy.max_delay)
            .max()
            .unwrap_or_default();
        real.expect.reconnect_within = Some(real.settle + slowest);
    }
    // The built-in client speaks wschaos's protocol: on a server of another, it says so.
    let foreign = !s.server.protocol.spoken_by_reference_client();
    for g in real.clients.iter_mut().filter(|g| g.command.is_none()) {
        if foreign {
            g.protocol = Some(crate::protocol::Protocol::Wschaos);
        }
        let mut command = String::from("\"$WSCHAOS\" connect {url} --client-id {name} --stay");
        if g.mode == Mode::Raw {
            command.push_str(" --raw");
        }
        for topic in &g.topics {
            command.push_str(&format!(" --subscribe {}", quoted(topic)));
        }
        if let Some(w) = g.publish.take() {
            let what = match g.mode {
                Mode::Pubsub => format!(
                    "--publish {}",
                    quoted(&format!("{}:{{name}}#{{count}}", w.topic))
                ),
                Mode::Raw => format!("--send {}", quoted("{name}#{count}")),
            };
            command.push_str(&format!(
                " {what} --every {}ms --start {}ms",
                w.every.as_millis(),
                w.start.as_millis()
            ));
            if let Some(stop) = w.stop {
                command.push_str(&format!(" --stop {}ms", stop.as_millis()));
            }
        }
        let policy = serde_json::to_string(&g.policy).map_err(|e| e.to_string())?;
        g.env.insert("WSCHAOS_POLICY".into(), policy);
        g.command = Some(command);
    }
    Ok(real)
}

/// `text` as one shell word.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(toml: &str) -> Scenario {
        crate::scenario::parse(toml, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_group_keeps_its_policy_topics_and_workload() {
        let s = scenario(
            r#"name = "t"
duration = "20s"
settle = "5s"
[[clients]]
name = "pub"
topics = ["news"]
policy = { initial_delay = "200ms", jitter = 0.5, max_attempts = 3 }
publish = { topic = "news", every = "250ms" }
[[clients]]
name = "late"
publish = { topic = "x", every = "1s", start = "2s", stop = "9s" }
[[clients]]
name = "raw"
mode = "raw"
"#,
        );
        let real = on_real_network(&s).unwrap();
        let pubs = &real.clients[0];
        assert!(pubs.publish.is_none());
        let command = pubs.command.as_deref().unwrap();
        assert!(
            command.ends_with(
                "--subscribe 'news' --publish 'news:{name}#{count}' --every 250ms --start 1000ms"
            ),
            "{command}"
        );
        let policy: crate::client::Policy =
            serde_json::from_str(&pubs.env["WSCHAOS_POLICY"]).unwrap();
        assert_eq!(policy, s.clients[0].policy);
        let late = real.clients[1].command.as_deref().unwrap();
        assert!(
            late.ends_with("--every 1000ms --start 2000ms --stop 9000ms"),
            "{late}"
        );
        let raw = real.clients[2].command.as_deref().unwrap();
        assert!(raw.contains(" --raw") && !raw.contains("--send"), "{raw}");
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quoted("it's"), r"'it'\''s'");
    }
}
