//! Finding scenario files and running (file, seed) cases: what `wschaos run` and the
//! `cargo test` harness share.

use std::path::{Path, PathBuf};

use crate::check::{self, Verdict};
use crate::history::History;
use crate::scenario::{self, Scenario, ScenarioError};
use crate::sim::{self, ClientUnderTest, ReferenceClient, SimError};
use crate::world::World;

/// One scenario file with one seed.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file it came from.
    pub file: PathBuf,
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
}

/// What running a case gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Everything that happened.
    pub history: History,
    /// What the checkers said.
    pub verdict: Verdict,
    /// A real run only: what each client process printed that was not a probe line, and
    /// how it ended when it did so before the run stopped it.
    pub logs: std::collections::BTreeMap<String, crate::real::Log>,
    /// A real run with a `[server] command` only: what the server printed.
    pub server_log: Option<crate::real::Log>,
}

/// A case that could not be run (as opposed to one that found a violation).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The simulation failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A real-network file was given to run a client of your own: it runs the client
    /// processes it names instead.
    #[error(
        "{file} names client processes (`command`): it runs those on the real network, not a client under test"
    )]
    RealFile {
        /// The scenario file.
        file: String,
    },
    /// A real-network run could not be set up.
    #[error("{file}: {error}")]
    Real {
        /// The scenario file.
        file: String,
        /// What went wrong.
        error: crate::real::RealError,
    },
}

/// Runs `f` to completion: on the current runtime from one of its blocking threads, or on
/// a runtime of its own from a plain thread (a test).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(f),
        Err(_) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the real-network run")
            .block_on(f),
    }
}

/// Where two runs of the same case parted ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The history line (1-based; the header is line 1).
    pub line: usize,
    /// That line in the first run.
    pub first: String,
    /// That line in the second run.
    pub second: String,
}

/// What a case's outcome means, given the scenario's `expect.failing` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Every invariant held.
    Pass,
    /// Only the known, still open failure fired (a regression file while the bug is open).
    KnownFailure(String),
    /// The known failure no longer fires although the run judged it: the bug is fixed,
    /// the marker can go.
    Fixed(String),
    /// The known failure did not fire, but the run could not judge it (a fault that did
    /// not land, a machine too slow to time it): nothing is known, and nothing is changed.
    /// Green, with the reason.
    Unconfirmed {
        /// The known failure's invariant.
        invariant: String,
        /// Why the run could not judge it.
        reason: String,
    },
    /// Something broke.
    Fail,
}

impl Judgement {
    /// True for the outcomes a test run counts as green.
    pub fn green(&self) -> bool {
        matches!(
            self,
            Judgement::Pass | Judgement::KnownFailure(_) | Judgement::Unconfirmed { .. }
        )
    }
}

impl Case {
    /// Judges an outcome of this case.
    pub fn judge(&self, outcome: &Outcome) -> Judgement {
        let known = self.scenario.expect.failing.as_deref();
        let others = outcome
            .verdict
            .violations
            .iter()
            .any(|v| Some(v.invariant) != known);
        match known {
            _ if others => Judgement::Fail,
            None => Judgement::Pass,
            Some(k) if outcome.verdict.violations.is_empty() => {
                // FIXED needs evidence that the bug could have shown and did not: the
                // known invariant judged, and every fault landed on a connection.
                let unjudged = (outcome.verdict.not_judged.iter())
                    .find(|n| n.invariant == k)
                    .map(|n| format!("{}: {}", n.client, n.reason));
                let missed = (outcome.verdict.warnings.first())
                    .map(|w| format!("at {} ms: {}", w.t, w.message));
                match unjudged.or(missed) {
                    Some(reason) => Judgement::Unconfirmed {
                        invariant: k.to_string(),
                        reason,
                    },
                    None => Judgement::Fixed(k.to_string()),
                }
            }
            Some(k) => Judgement::KnownFailure(k.to_string()),
        }
    }

    /// Runs the case and checks it: in the simulation against the reference client, or,
    /// when the file names client processes (`command`), on the real network
    /// ([`crate::real`]) in real time.
    pub fn run(&self) -> Result<Outcome, RunError> {
        match self.world() {
            World::Simulated => self.run_with::<ReferenceClient>(),
            World::RealNetwork => self.run_real(),
        }
    }

    /// Runs the case in the simulation against your own client `C` and checks it. A file
    /// that names client processes runs those processes, not `C`: it is refused
    /// ([`RunError::RealFile`]).
    pub fn run_with<C: ClientUnderTest>(&self) -> Result<Outcome, RunError> {
        if !self.world().runs_your_client() {
            return Err(RunError::RealFile {
                file: self.file.display().to_string(),
            });
        }
        let history = sim::run_with::<C>(&self.scenario, self.seed)?;
        let verdict = check::check(&self.scenario, &history);
        Ok(Outcome {
            history,
            verdict,
            server_log: None,
            logs: Default::default(),
        })
    }

    /// The world the case runs in, decided by its file ([`World::of`]).
    pub fn world(&self) -> World {
        World::of(&self.scenario)
    }

    fn run_real(&self) -> Result<Outcome, RunError> {
        let dir = crate::real::dir_of(&self.file);
        let run =
            block_on(crate::real::run(&self.scenario, &dir)).map_err(|error| RunError::Real {
                file: self.file.display().to_string(),
                error,
            })?;
        Ok(Outcome {
            history: run.history,
            verdict: run.verdict,
            logs: run.logs,
            server_log: run.server_log,
        })
    }

    /// Runs the case twice and returns the first history line where the runs differ
    /// (1-based, with both versions), or `None` when they are byte-identical.
    pub fn divergence(&self) -> Result<Option<Divergence>, SimError> {
        let a = sim::run(&self.scenario, self.seed)?.to_jsonl();
        let b = sim::run(&self.scenario, self.seed)?.to_jsonl();
        let mut lines = a.lines().zip(b.lines()).enumerate();
        let first = lines
            .find(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| (i + 1, x.to_string(), y.to_string()));
        let lengths = (a.lines().count() != b.lines().count()).then(|| {
            (
                a.lines().count().min(b.lines().count()) + 1,
                String::new(),
                String::new(),
            )
        });
        Ok(first.or(lengths).map(|(line, first, second)| Divergence {
            line,
            first,
            second,
        }))
    }

    /// The command that replays exactly this case.
    pub fn replay_command(&self) -> String {
        if !self.world().replays() {
            // Real time does not replay: it runs again (and `seeds` says how often).
            return format!(
                "cargo run --release -- run {}   (a real-network run: it runs again, it does not replay)",
                self.file.display()
            );
        }
        format!(
            "cargo run --release -- run {} --seed {}",
            self.file.display(),
            self.seed
        )
    }
}

/// The cases of one file: one per seed (or only `seed` when given).
pub fn cases(file: &Path, seed: Option<u64>) -> Result<Vec<Case>, ScenarioError> {
    let scenario = scenario::load(file)?;
    let seeds = seed.map_or_else(|| scenario.seeds.clone(), |s| vec![s]);
    Ok(seeds
        .into_iter()
        .map(|seed| Case {
            file: file.to_path_buf(),
            scenario: scenario.clone(),
            seed,
        })
        .collect())
}

/// Every `*.toml` file under `paths` (a file stands for itself), sorted, without repeats.
///
/// ```
/// let files = wschaos::cases::discover(&["scenarios".into()]).unwrap();
/// assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "toml")));
/// ```
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", path.display()),
            ));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// One share of a sweep split over `count` machines: share `index` (1-based) takes every
/// case whose position in the unsplit order leaves remainder `index - 1` when divided by
/// `count`. The shares are disjoint and together cover the sweep exactly, and each is
/// spread evenly over files and seeds.
///
/// ```
/// use wschaos::cases::Shard;
/// let shard: Shard = "2/3".parse().unwrap();
/// assert_eq!((0..7).filter(|&i| shard.has(i)).collect::<Vec<_>>(), [1, 4]);
/// assert_eq!(shard.to_string(), "2/3");
/// assert!("0/3".parse::<Shard>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// Which share, 1 to `count`.
    pub index: u64,
    /// How many shares.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// True when the case at `position` (0-based, in the unsplit order) is in this share.
    pub fn has(&self, position: u64) -> bool {
        position % self.count == self.index - 1
    }

    /// The position (in the unsplit order) of this share's `k`-th case (0-based).
    pub fn position(&self, k: u64) -> u64 {
        k.saturating_mul(self.count).saturating_add(self.index - 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let shape = || format!("{s:?}: expected K/N, share K of N (1 <= K <= N), e.g. 3/20");
        let (k, n) = s.trim().split_once('/').ok_or_else(shape)?;
        let (index, count): (u64, u64) = match (k.trim().parse(), n.trim().parse()) {
            (Ok(k), Ok(n)) => (k, n),
            _ => return Err(shape()),
        };
        if count == 0 || index == 0 || index > count {
            return Err(shape());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::{Case, Judgement, Outcome, Shard};
    use crate::check::{NotJudged, Verdict, Violation};

    /// A known failure that does not fire is FIXED only when the run judged it and its
    /// faults landed; when the run could not (a slow machine, a fault that touched no
    /// connection), it is unconfirmed and green, never advice to delete the marker.
    #[test]
    fn a_known_failure_is_fixed_only_when_it_was_judged() {
        let scenario = crate::scenario::parse(
            "name = \"s\"\nduration = \"10s\"\n[expect]\nfailing = \"herd_spread\"\n[[clients]]\nname = \"c\"\n",
            "s.toml",
        )
        .unwrap();
        let case = Case {
            file: "s.toml".into(),
            scenario,
            seed: 1,
        };
        let outcome = |violations: Vec<Violation>, not_judged: Vec<NotJudged>| Outcome {
            history: crate::history::History::new("s", 1, Vec::new()),
            verdict: Verdict {
                checked: vec!["herd_spread"],
                violations,
                not_judged,
                warnings: Vec::new(),
            },
            logs: Default::default(),
            server_log: None,
        };
        assert_eq!(
            case.judge(&outcome(Vec::new(), Vec::new())),
            Judgement::Fixed("herd_spread".into())
        );
        let slow = NotJudged {
            invariant: "herd_spread",
            client: "c-0".into(),
            from: Some(3000),
            reason: "too coarse".into(),
        };
        let judged = case.judge(&outcome(Vec::new(), vec![slow.clone()]));
        assert!(
            matches!(&judged, Judgement::Unconfirmed { invariant, reason }
                if invariant == "herd_spread" && reason == "c-0: too coarse"),
            "{judged:?}"
        );
        assert!(judged.green());
        let mut untouched = outcome(Vec::new(), Vec::new());
        untouched.verdict.warnings.push(crate::check::Warning {
            t: 3000,
            message: "the kick touched no connection".into(),
        });
        assert!(
            matches!(case.judge(&untouched), Judgement::Unconfirmed { reason, .. }
                if reason == "at 3000 ms: the kick touched no connection"),
            "a fault that did not land proves nothing"
        );
        let storm = Violation::new("herd_spread", None, 3500, "20 of 20".into(), Vec::new());
        assert_eq!(
            case.judge(&outcome(vec![storm], vec![slow])),
            Judgement::KnownFailure("herd_spread".into())
        );
    }

    #[test]
    fn shards_are_disjoint_and_cover_every_position_exactly_once() {
        for count in 1..=7u64 {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            for position in 0..200u64 {
                let owners = shards.iter().filter(|s| s.has(position)).count();
                assert_eq!(owners, 1, "position {position} of {count} shards");
            }
            for s in &shards {
                // The k-th case of a share is at `position(k)`, and those are exactly the
                // positions it has, in order.
                let mine: Vec<u64> = (0..200).filter(|&p| s.has(p)).collect();
                let listed: Vec<u64> = (0..mine.len() as u64).map(|k| s.position(k)).collect();
                assert_eq!(mine, listed, "shard {s}");
            }
        }
    }

    #[test]
    fn bad_shards_are_refused_with_the_expected_shape() {
        for bad in ["", "3", "0/2", "3/2", "1/0", "a/b", "1/2/3", "-1/2"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected K/N"), "{bad}: {e}");
        }
        assert_eq!(
            " 20/20 ".parse::<Shard>(),
            Ok(Shard {
                index: 20,
                count: 20
            })
        );
    }
}
