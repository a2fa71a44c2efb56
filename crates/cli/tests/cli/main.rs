//! The `gatehouse` binary: profiles on disk, whoami against a live server, the audit trail, and
//! devices, with an exit code per failure.

mod audit;
mod device;
