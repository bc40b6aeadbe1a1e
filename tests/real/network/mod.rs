//! The client and the server over a real loopback network (port 0), synchronised on events.

mod access;
mod budget;
mod close;
mod controls;
mod half_open;
mod raw;
mod restart;
mod tls;
