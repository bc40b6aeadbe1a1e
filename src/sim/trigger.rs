//! Client actions fired by status changes (`on = "connected"` steps): each lands in the
//! same simulated instant as the change that fires it, inside the transition.

use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;

use super::Command;
use super::plan::Armed;
use crate::client::Status;
use crate::scenario::StatusName;

/// The armed steps of one host, counting each client's status changes.
pub(crate) struct Hook {
    armed: Mutex<Vec<(Armed, u32)>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Hook {
    pub(crate) fn new(armed: Vec<Armed>, commands: mpsc::UnboundedSender<Command>) -> Hook {
        Hook {
            armed: Mutex::new(armed.into_iter().map(|a| (a, 0)).collect()),
            commands,
        }
    }

    /// `client` moved to `status`: fire what waits for this change.
    pub(crate) fn on_status(&self, client: &str, status: &Status) {
        let name = StatusName::of(status);
        let mut all = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        for (armed, seen) in all.iter_mut() {
            if armed.client != client || armed.trigger.on != name {
                continue;
            }
            *seen += 1;
            if *seen == armed.trigger.nth {
                // The host's loop runs it in this instant; a host that stopped takes nothing.
                let _ = self.commands.send(Command::Act {
                    client: armed.client.clone(),
                    action: armed.action.clone(),
                });
            }
        }
    }
}
