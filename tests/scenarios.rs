//! Every scenario file under `scenarios/`, for each of its seeds, is its own test:
//! `cargo test --test scenarios -- restarts/short` runs a subset, `-- --list` lists them.
//! A failure prints the violation, a short timeline around it and the replay command.

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};
use wschaos::cases::{self, Case, Judgement};
use wschaos::report;

fn main() {
    let args = Arguments::from_args();
    // cargo runs integration tests from the package root; relative paths keep the
    // replay commands short.
    let root = PathBuf::from("scenarios");
    let files = cases::discover(std::slice::from_ref(&root)).expect("scenarios/ is readable");
    let mut trials = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        match cases::cases(&file, None) {
            Ok(cases) => trials.extend(cases.into_iter().map(|case| trial(&name, case))),
            Err(e) => {
                let message = e.to_string();
                trials.push(Trial::test(format!("{name}::parse"), move || {
                    Err(Failed::from(message))
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn trial(name: &str, case: Case) -> Trial {
    Trial::test(format!("{name}::seed_{}", case.seed), move || {
        let outcome = case.run().map_err(|e| Failed::from(e.to_string()))?;
        match case.judge(&outcome) {
            Judgement::Pass | Judgement::KnownFailure(_) => Ok(()),
            Judgement::Fixed(invariant) => Err(Failed::from(format!(
                "{}: the known failure ({invariant}) no longer happens: the bug is fixed; delete `failing` from the file",
                case.file.display()
            ))),
            Judgement::Fail => Err(Failed::from(report::failure(&case, &outcome))),
        }
    })
}
