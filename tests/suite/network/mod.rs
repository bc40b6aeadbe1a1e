//! The client and the server over a real loopback network (port 0), synchronised on events.

pub mod access;
pub mod budget;
pub mod close;
pub mod controls;
pub mod half_open;
pub mod raw;
pub mod restart;
pub mod tls;
