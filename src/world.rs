//! The worlds a scenario file runs in, and what each one can and cannot do.
//!
//! A file runs in exactly one world, decided by the file alone ([`World::of`]):
//!
//! - [`World::Simulated`]: turmoil's simulated network and clock, the reference client or
//!   yours ([`crate::sim::ClientUnderTest`]). Everything is observed, and a run is a pure
//!   function of (scenario, seed): it replays, explores, shrinks and is checked for
//!   determinism.
//! - [`World::RealNetwork`]: the processes the file names (`command`), behind one proxy
//!   each, in real time ([`crate::real`]). What is observed depends on the client (probe
//!   lines) and the server (built in or a `[server] command`); the same file runs again
//!   rather than replays.
//!
//! Callers ask the world what they may do with a file, never whether it is "real": a new
//! world is one more variant, and the compiler walks every place that must decide for it.

use crate::check::Context;
use crate::evidence::Provided;
use crate::scenario::Scenario;

/// Where a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// In the simulation, deterministically, against a [`crate::sim::ClientUnderTest`].
    Simulated,
    /// On the real network, in real time, with the processes the file names.
    RealNetwork,
}

impl World {
    /// The world `s` runs in: the real network when it names a process (a client group's
    /// `command`, or the server's), the simulation otherwise.
    pub fn of(s: &Scenario) -> World {
        if s.server.command.is_some() || s.clients.iter().any(|g| g.command.is_some()) {
            World::RealNetwork
        } else {
            World::Simulated
        }
    }

    /// True when the same seed gives a byte-identical history, so a run can be replayed,
    /// explored, shrunk and checked for determinism.
    pub fn replays(self) -> bool {
        match self {
            World::Simulated => true,
            World::RealNetwork => false,
        }
    }

    /// True when the client under test is the one the caller plugs in (a
    /// [`crate::sim::ClientUnderTest`]); a real-network file runs the processes it names.
    pub fn runs_your_client(self) -> bool {
        match self {
            World::Simulated => true,
            World::RealNetwork => false,
        }
    }

    /// True when a file of this world belongs to `wschaos run` with no paths (the
    /// simulated library, in seconds); real-network files take real time and run when
    /// named.
    pub fn in_default_run(self) -> bool {
        self.replays()
    }

    /// How many runs one case takes when `asked` were asked for (`--runs`): a replaying
    /// world would give the same run each time, so one.
    pub fn runs_per_case(self, asked: u32) -> u32 {
        if self.replays() { 1 } else { asked }
    }

    /// Why `s` cannot run in this world, if it cannot.
    pub fn refuses(self, s: &Scenario) -> Option<String> {
        match self {
            World::Simulated => None,
            World::RealNetwork => crate::real::unsupported(s),
        }
    }

    /// The context a run of `s` in this world will be judged with, as far as it is known
    /// before the run: what the simulation observes, or, on the real network, the tolerance
    /// and dial model with nothing yet known to be provided (what a real client provides
    /// shows only in its history, [`crate::real::provided`]).
    pub fn context_before_run(self, s: &Scenario) -> Context<'_> {
        match self {
            World::Simulated => Context::simulated(s),
            World::RealNetwork => Context::observed(s, Provided::new(), crate::real::TOLERANCE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Scenario {
        crate::scenario::parse(toml, "w.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_file_is_real_when_it_names_any_process() {
        let sim = parse("name = \"s\"\nduration = \"10s\"\n[[clients]]\nname = \"c\"\n");
        assert_eq!(World::of(&sim), World::Simulated);
        let client = parse(
            "name = \"s\"\nduration = \"10s\"\n[[clients]]\nname = \"c\"\ncommand = \"true {url}\"\n",
        );
        assert_eq!(World::of(&client), World::RealNetwork);
        let server = parse(
            "name = \"s\"\nduration = \"10s\"\n[server]\ncommand = \"serve {port}\"\n[[clients]]\nname = \"c\"\n",
        );
        assert_eq!(World::of(&server), World::RealNetwork);
    }

    #[test]
    fn only_the_simulation_replays_and_runs_your_client() {
        assert!(World::Simulated.replays() && World::Simulated.runs_your_client());
        assert!(!World::RealNetwork.replays() && !World::RealNetwork.runs_your_client());
        assert_eq!(World::Simulated.runs_per_case(5), 1);
        assert_eq!(World::RealNetwork.runs_per_case(5), 5);
    }
}
