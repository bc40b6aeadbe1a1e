//! The reference client with one deliberate defect, as a client under test (shared by the
//! defect and exploration tests).

/// Declares `$name`, a client under test that is the reference client with `$defect`
/// (its frames read by `wire`, a decoder of one's own, when given).
macro_rules! defective {
    ($name:ident, $defect:expr $(, wire = $wire:expr)?) => {
        struct $name(wschaos::sim::DefectiveClient);

        impl wschaos::sim::ClientUnderTest for $name {
            fn start(env: wschaos::sim::ClientEnv) -> Self {
                $name(wschaos::sim::DefectiveClient::start(env, $defect))
            }
            fn subscribe(&self, topic: &str) {
                self.0.subscribe(topic)
            }
            fn unsubscribe(&self, topic: &str) {
                self.0.unsubscribe(topic)
            }
            fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
                self.0.publish(topic, data)
            }
            fn close(&self) {
                self.0.close()
            }
            fn reconnect(&self) {
                self.0.reconnect()
            }
            $(
                fn wire() -> Option<fn() -> Box<dyn wschaos::evidence::wire::Decoder>> {
                    Some($wire)
                }
            )?
        }
    };
}
