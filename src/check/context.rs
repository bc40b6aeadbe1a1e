//! What a checker is given beside the history: the scenario as written, what the world
//! provided for each client, and the world's timing (its slack, the end of what it saw).

use std::time::Duration;

use crate::evidence::Provided;
use crate::evidence::window::{self, Window};
use crate::history::FaultWindow;
use crate::scenario::{Group, Network, Scenario};

/// The world a history came from, as the checkers see it.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The scenario, as written.
    pub scenario: &'a Scenario,
    /// What the world provided for each client.
    pub provided: Provided,
    /// Slack for timing comparisons (ms): the world's tick twice, and two one-way
    /// latencies of the scenario's network, plus a millisecond.
    pub slack: u64,
    /// The world's timing resolution: the scenario's `tick` in the simulation, raised to
    /// the real network's tolerance there. (It shadows the scenario's own `tick`.)
    pub tick: Duration,
    /// How late the world's clock may have read an event, and when: the scenario's `tick`
    /// in the simulation; on the real network, the scheduling delay measured during the
    /// run (how late the harness's timers woke up), which a busy machine raises. Checkers
    /// that compare instants closer than the real tolerance (the herd's windows) use it.
    pub lag: crate::evidence::Lag,
    /// The end of what the world observed (ms).
    pub end: u64,
    /// How long a dial made during a fault may hang in this world.
    pub hang: window::Hang,
    /// How soon after each heal a client must be back (`expect.reconnect_within`, or the
    /// world's own default); `None`: not demanded.
    pub reconnect_within: Option<Duration>,
}

impl<'a> Context<'a> {
    /// A simulated run of `scenario`: everything provided for every client, the
    /// scenario's own tick.
    pub fn simulated(scenario: &'a Scenario) -> Context<'a> {
        let names = scenario
            .clients
            .iter()
            .flat_map(crate::scenario::Group::client_names);
        let names: Vec<String> = names.collect();
        Context {
            scenario,
            provided: Provided::everything(names.iter().map(String::as_str)),
            slack: slack(scenario.tick, &scenario.network),
            tick: scenario.tick,
            lag: crate::evidence::Lag::fixed(scenario.tick),
            end: crate::evidence::window::ms(scenario.duration),
            reconnect_within: scenario.expect.reconnect_within,
            hang: window::simulated_hang,
        }
    }

    /// A run on the real network with what `provided` says, judged with a timing tolerance
    /// of `tick` (at least the scenario's own).
    pub fn observed(scenario: &'a Scenario, provided: Provided, tick: Duration) -> Context<'a> {
        let tick = tick.max(scenario.tick);
        Context {
            provided,
            hang: window::real_hang,
            slack: slack(tick, &scenario.network),
            tick,
            ..Context::simulated(scenario)
        }
    }
}

impl Context<'_> {
    /// How much later a client's own report of a moment (a probe line: its status, what it
    /// asked to subscribe to) may be recorded than the server's record of the same moment
    /// (ms): nothing in the simulation, where both are recorded as they happen; on the real
    /// network the run's tolerance, since probe lines reach the harness through a pipe.
    pub fn report_delay(&self) -> u64 {
        window::ms(self.tick.saturating_sub(self.scenario.tick))
    }

    /// The window `w` opens for a client of `g` ([`window::window`]); `None` when it does
    /// not reach that client's connection.
    pub fn window(&self, w: &FaultWindow, g: &Group) -> Option<Window> {
        let client = (g.host.as_str(), &g.policy);
        let mut win = window::window(&w.fault, (w.from, w.to), client, &self.server, self.hang)?;
        win.due = win.due.map(|d| d.saturating_add(self.dial_time()));
        Some(win)
    }

    /// How long a dial on a clear path takes to end in `connected`: a round trip for TCP,
    /// one for the upgrade, half of one for the welcome, each a tick late (three trips, to
    /// be safe).
    pub fn dial_time(&self) -> u64 {
        let trip = self
            .network
            .latency
            .saturating_add(self.network.jitter)
            .saturating_mul(2)
            .saturating_add(self.tick);
        window::ms(trip).saturating_mul(3)
    }

    /// True when the run saw all of window `win`: the client had time, by its declared
    /// bounds (and the world's slack), to be back before the end, or, for a fault that
    /// never healed, to notice it.
    pub fn covers(&self, win: &Window) -> bool {
        self.covers_until(win, self.end)
    }

    /// [`Context::covers`], for what was seen until `end` (a process's exit).
    pub fn covers_until(&self, win: &Window, end: u64) -> bool {
        let last = win.due.unwrap_or(win.noticed_by);
        last.saturating_add(self.slack) <= end
    }

    /// Until when a client of `g` that was connected at `end` (the end of the run, or
    /// its process's exit) owed what it had accepted (sends) or was subscribed to
    /// (messages): `settle` before then, and not from the beginning of a fault on its
    /// connection whose window was not over by then (it may not have noticed the link dead
    /// yet, or not be back). With, in that case, when the horizon was cut and why, for a
    /// not-judged entry.
    pub(crate) fn owed_until(
        &self,
        windows: &[FaultWindow],
        g: &Group,
        end: u64,
    ) -> (u64, Option<(u64, String)>) {
        let mut horizon = end.saturating_sub(window::ms(self.settle));
        let mut why = None;
        for w in windows.iter().filter(|w| w.from <= end) {
            let Some(win) = self.window(w, g).filter(|win| !self.covers_until(win, end)) else {
                continue;
            };
            let from = w.from.saturating_sub(self.slack);
            if from < horizon {
                horizon = from;
                why = Some((from, self.uncovered(w, &win)));
            }
        }
        (horizon, why)
    }

    /// Why window `win` of fault `w` is not covered by the run, with the numbers.
    pub fn uncovered(&self, w: &FaultWindow, win: &Window) -> String {
        let what = format!("the {} at {}", w.fault.verb(), window::show(w.from));
        let left = window::show(self.end.saturating_sub(w.from));
        match win.due {
            None => format!(
                "{what} never heals, and the run ends {left} after it, before this client's heartbeat bound of {}",
                window::show(win.noticed_by.saturating_sub(w.from))
            ),
            Some(due) => {
                let silent = win.noticed_by > w.from;
                format!(
                    "the run ends {left} after {what}; by its declared bounds this client may take up to {} to be back{}",
                    window::show(due.saturating_add(self.slack).saturating_sub(w.from)),
                    if silent {
                        format!(
                            " ({} of it to notice a silent link)",
                            window::show(win.noticed_by - w.from)
                        )
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

/// Two ticks and two one-way latencies (with jitter), plus a millisecond.
pub(crate) fn slack(tick: Duration, network: &Network) -> u64 {
    let d = tick.saturating_mul(2).saturating_add(
        network
            .latency
            .saturating_add(network.jitter)
            .saturating_mul(2),
    );
    crate::evidence::window::ms(d).saturating_add(1)
}

/// A context reads as its scenario: `cx.clients`, `cx.settle`.
impl std::ops::Deref for Context<'_> {
    type Target = Scenario;

    fn deref(&self) -> &Scenario {
        self.scenario
    }
}
