//! The client against real servers: every failure a person can meet is told apart.

mod classify;
mod cli;
mod identity;
